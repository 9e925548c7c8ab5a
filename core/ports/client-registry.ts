import type { ClientEventData } from '../events/schemas.js';
import type { ClientEvent } from '../events/validate.js';

/** One client as the gateway knows it; a deleted client stays as a tombstone so late events lose. */
export interface RegistryEntry {
  clientId: string;
  status: ClientEventData['status'];
  client: ClientEventData;
  /** `time` of the event last applied: the order guard. */
  eventTime: string;
}

/** `applied`; `duplicate`: this event id was applied already; `stale`: older than what is stored. */
export type ApplyResult = 'applied' | 'duplicate' | 'stale';

/**
 * The gateway-sync consumer's client registry (services/gateway-sync): SQLite in embedded mode
 * (platform/adapters/embedded/client-registry.ts), a MongoDB collection when `DCR_MONGO_URL` is set
 * (platform/adapters/mongo/client-registry.ts); chosen by platform/runtime/service-stores.ts.
 */
export interface ClientRegistry {
  /** Applies a client event idempotently (dedupe by id) and in order (by event time) per client. */
  apply(event: ClientEvent): Promise<ApplyResult>;
  get(clientId: string): Promise<RegistryEntry | null>;
  close(): Promise<void>;
}

/** Event ids remembered per client for dedupe (redeliveries come close together). */
export const REGISTRY_REMEMBERED_IDS = 32;
