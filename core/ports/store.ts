import type { Client, ClientStatus } from '../domain/client.js';
import { DcrError } from '../domain/errors.js';
import type { HistoryEntry, OutboxEntry, Registration, RegistrationStatus } from '../domain/registration.js';

/** A state change applied atomically with its history and outbox entries. */
export interface RegistrationChange {
  set: Partial<Omit<Registration, 'id' | 'version' | 'history'>>;
  history?: HistoryEntry[];
  outbox?: OutboxEntry[];
  /**
   * The id of the stage job whose run this change ends (a stage's final transition). A committing
   * store ({@link Store.outboxDelivery}) deletes the job from its queue in the same transaction, so
   * the job is done exactly when the change is stored; other stores ignore it (their queue completes
   * the job when the handler returns).
   */
  completesJob?: string;
}

/** The record a change makes of `current`: what every adapter stores and returns. */
export function applyRegistrationChange(current: Registration, change: RegistrationChange): Registration {
  return {
    ...current,
    ...change.set,
    history: change.history?.length ? [...current.history, ...change.history] : current.history,
    version: current.version + 1,
  };
}

/**
 * {@link Store.insertClient}: another active client already holds the new client's
 * `activeSoftwareKey` (one registration per software). Final for the request that caused it.
 */
export class SoftwareAlreadyRegistered extends DcrError {
  readonly code = 'ERR_SOFTWARE_ALREADY_REGISTERED';
  constructor(
    readonly softwareKey: string,
    /** The active client that holds the software. */
    readonly existingClientId: string,
  ) {
    super(`software '${softwareKey}' is already registered as client ${existingClientId}`);
  }
}

/**
 * The value a store indexes as unique: the software key of a client not yet `deleted` (a `deleting`
 * one still holds it: until the AS delete is done, a new registration of the software must not race
 * the old client), else none.
 */
export function activeSoftwareKeyOf(client: Pick<Client, 'status' | 'activeSoftwareKey'>): string | null {
  return client.status !== 'deleted' && typeof client.activeSoftwareKey === 'string' ? client.activeSoftwareKey : null;
}

export interface ClientChange {
  set: Partial<Omit<Client, 'clientId' | 'version'>>;
  outbox?: OutboxEntry[];
}

export interface RegistrationFilter {
  status?: RegistrationStatus;
  /** ISO timestamps on `updatedAt`. */
  since?: string;
  until?: string;
  /** Substring of the last error or of the rejection code. */
  error?: string;
  /** Exactly one of: the request id, client id, software id, organisation id or TPP identity. */
  search?: string;
  limit?: number;
  /** Paging cursor: only records submitted before this ISO time. */
  before?: string;
}

export interface ClientFilter {
  status?: ClientStatus;
  /** Exactly one of: the client id, software id, organisation id or TPP identity. */
  search?: string;
  /** Only these clients (the ops list looks up the clients of a page of registrations). */
  clientIds?: readonly string[];
  limit?: number;
  /** Paging cursor: only clients created before this ISO time. */
  before?: string;
}

/** What one retention pass removes (README "Retention"); every cutoff is exclusive. */
export interface RetentionCutoffs {
  /** `rejected` requests last updated before this ISO time are deleted. */
  rejectedBefore: string;
  /** `registered` requests last updated before this ISO time are compacted (body, verified claims, certificate PEM, sealed token dropped). */
  compactBefore: string;
  /** `registered` requests last updated before this ISO time are deleted (the audit period is over). */
  auditBefore: string;
  /** jti reservations expiring before this epoch second are deleted. */
  jtiBefore: number;
  /** At most this many registrations deleted and this many compacted per call. */
  batch: number;
}

export interface RetentionReport {
  deleted: number;
  compacted: number;
  jtis: number;
}

export interface PendingOutboxEntry {
  aggregate: 'registration' | 'client';
  aggregateId: string;
  entry: OutboxEntry;
}

/**
 * The registration and client store. Every mutating call is atomic on one record together with its
 * outbox entries (MongoDB has no multi-document transactions in mongo-java-server: one document, one
 * atomic update). Conditional updates (`expectedVersion`) make stages idempotent on redelivery.
 */
export interface Store {
  /**
   * How a change's outbox entries leave. Absent: they wait in the outbox ({@link pendingOutbox})
   * until the job dispatcher or the relay hands them over (MongoDB: the queue and the bus are other
   * servers). `committed`: the store writes them into the work queue and the event log in the
   * change's own transaction (the embedded set, where all three are tables of one SQLite file), so
   * nothing is ever pending and there is nothing to dispatch or relay.
   */
  readonly outboxDelivery?: 'committed' | undefined;
  /** Inserts unless a registration with the same `submissionKey` exists; returns the stored one. */
  insertRegistration(registration: Registration, outbox: OutboxEntry[]): Promise<{ inserted: boolean; registration: Registration }>;
  getRegistration(id: string): Promise<Registration | null>;
  /**
   * Compare-and-set: applies `change` iff the stored record is still at `current.version`, and returns
   * the new record ({@link applyRegistrationChange}), or null when another write came first. `current`
   * must be the record as this store returned it: every write bumps the version, so the version
   * names the content and the store need not read it back.
   */
  updateRegistration(current: Registration, change: RegistrationChange): Promise<Registration | null>;
  listRegistrations(filter: RegistrationFilter): Promise<Registration[]>;
  countRegistrationsByStatus(): Promise<Partial<Record<RegistrationStatus, number>>>;

  /** The registration recorded for this submission key, if any (the idempotent-resubmission lookup). */
  findRegistrationBySubmissionKey(submissionKey: string): Promise<Registration | null>;
  /** How many requests of this TPP identity are in progress (IN_FLIGHT_STATUSES of domain/registration.ts). */
  countInFlight(tppIdentity: string): Promise<number>;
  /**
   * One retention pass: deletes settled final requests past their period and compacts registered
   * ones past the delivery window, never a request that is in progress or still has unpublished
   * outbox entries. Every change bumps the record's version, so a writer holding an older copy loses
   * its compare-and-set rather than writing the purged members back.
   */
  purgeRetention(cutoffs: RetentionCutoffs): Promise<RetentionReport>;

  /**
   * Inserts unless the client id exists (idempotent provisioning); returns the stored one. Throws
   * {@link SoftwareAlreadyRegistered} when another active client holds the client's
   * `activeSoftwareKey` (a unique index in every adapter, so concurrent inserts cannot both win);
   * a client that is updated to `deleted` gives its key up (a `deleting` one keeps it).
   */
  insertClient(client: Client, outbox: OutboxEntry[]): Promise<{ inserted: boolean; client: Client }>;
  getClient(clientId: string): Promise<Client | null>;
  updateClient(clientId: string, expectedVersion: number, change: ClientChange): Promise<Client | null>;
  /** Clients newest first (by `createdAt`, then client id), deleted ones included unless filtered. */
  listClients(filter: ClientFilter): Promise<Client[]>;

  /**
   * Reserves a request `jti` (key = software id + jti) for `requestId` until `expiresAt` (epoch s).
   * The same request reserving again is fine (redelivery); another request gets `conflict`.
   */
  reserveJti(key: string, requestId: string, expiresAt: number): Promise<'reserved' | 'conflict'>;

  /** Outbox entries not yet published, oldest first, in order per aggregate. */
  pendingOutbox(limit: number, kind?: OutboxEntry['kind']): Promise<PendingOutboxEntry[]>;
  markPublished(entries: Array<Pick<PendingOutboxEntry, 'aggregate' | 'aggregateId'> & { id: string }>): Promise<void>;
  /**
   * Whether the outbox entry `id` of the aggregate is still waiting for the relay (false once it is
   * marked published, or if the aggregate has no such entry). A read-your-writes barrier asks it
   * to learn that an event has reached the bus (platform/adapters/authorization-server/events.ts).
   */
  outboxPending(aggregate: PendingOutboxEntry['aggregate'], aggregateId: string, id: string): Promise<boolean>;

  /** A lease (leader election for the outbox relay). True when `owner` holds it for `ttlMs` more. */
  tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
