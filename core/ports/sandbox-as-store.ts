/** A node-oidc-provider model document (tokens, replay-detection entries, grants …). */
export type ModelPayload = Record<string, unknown>;

/** One client as the AS learned it from `dcr.client.v1`; a deleted client stays as a tombstone. */
export interface AsClientRecord {
  clientId: string;
  status: 'active' | 'deleted';
  /** The client event's data (never a token or a private key). */
  data: Record<string, unknown>;
  eventTimeMs: number;
  eventIds: string[];
}

export type ClientApplyResult = 'applied' | 'duplicate' | 'stale';

/** A client event as the AS store applies it. */
export interface AsClientEvent {
  id: string;
  timeMs: number;
  clientId: string;
  status: 'active' | 'deleted';
  data: Record<string, unknown>;
}

/**
 * The sandbox AS's own state (sandbox/sandbox-as): node-oidc-provider models, and the clients it
 * learned from the event stream. SQLite in embedded mode (platform/adapters/embedded/sandbox-as-store.ts),
 * MongoDB collections when `DCR_MONGO_URL` is set (platform/adapters/mongo/sandbox-as-store.ts), like
 * the pipeline's store; chosen by platform/runtime/service-stores.ts.
 */
export interface AsStore {
  /** Stores a model document; `expiresIn` (seconds) makes it unreadable after that time. */
  upsert(model: string, id: string, payload: ModelPayload, expiresIn: number | undefined): Promise<void>;
  /** The live (unexpired) document, if any. */
  find(model: string, id: string): Promise<ModelPayload | undefined>;
  findBy(model: string, field: 'userCode' | 'uid', value: string): Promise<ModelPayload | undefined>;
  /** Marks the document consumed (`consumed`: epoch seconds). */
  consume(model: string, id: string): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every document of the grant. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** Applies a client event idempotently (dedupe by event id) and in order (event time) per client. */
  applyClient(event: AsClientEvent): Promise<ClientApplyResult>;
  getClient(clientId: string): Promise<AsClientRecord | null>;
  close(): Promise<void>;
}

/** Event ids remembered per client for dedupe. */
export const AS_STORE_REMEMBERED_IDS = 32;

/** The epoch millisecond a model document expires at (`expiresIn` seconds from now), or null: never. */
export function modelExpiresAt(expiresIn: number | undefined, now = Date.now()): number | null {
  return typeof expiresIn === 'number' && expiresIn > 0 ? now + expiresIn * 1000 : null;
}
