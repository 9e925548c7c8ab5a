import type { Client } from '../../shared/domain/client.js';
import { RetryableFailure } from '../../shared/domain/errors.js';
import { clientEvent } from '../../shared/domain/events.js';
import type { Store } from '../../shared/ports/store.js';

const MAX_CONFLICTS = 10;

/**
 * RFC 7592 §2.3: marks the client `deleted` together with its `dcr.client.deleted` event in one
 * conditional write (no second document, so it is atomic on MongoDB without transactions too).
 * Idempotent: a client already deleted (by a concurrent call) is left as it is and no second
 * event is written. `changed` tells the caller whether to wake the outbox relay.
 */
export async function deleteClient(store: Pick<Store, 'getClient' | 'updateClient'>, client: Client, clock: () => Date = () => new Date()): Promise<{ client: Client; changed: boolean }> {
  let current: Client | null = client;
  for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
    if (!current) throw new RetryableFailure('client_missing', `client ${client.clientId} disappeared while deleting it`);
    if (current.status === 'deleted') return { client: current, changed: false };
    const now = clock();
    const deleted: Client = { ...current, status: 'deleted', updatedAt: now.toISOString() };
    const stored = await store.updateClient(current.clientId, current.version, {
      set: { status: 'deleted', updatedAt: deleted.updatedAt },
      outbox: [clientEvent('dcr.client.deleted', deleted, now)],
    });
    if (stored) return { client: stored, changed: true };
    // Someone else changed the client (an update being provisioned): delete the newer version.
    current = await store.getClient(client.clientId);
  }
  throw new RetryableFailure('concurrent_update', `client ${client.clientId} kept changing while deleting it`);
}
