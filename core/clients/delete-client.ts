import type { Client } from '../domain/client.js';
import { RetryableFailure } from '../domain/errors.js';
import { clientEvent } from '../domain/events.js';
import { derivedEventId } from '../domain/ids.js';
import type { AuthorizationServerPort } from '../ports/authorization-server.js';
import type { Store } from '../ports/store.js';
import { deleteAtAs } from './at-authorization-server.js';

const MAX_CONFLICTS = 10;

/** The id of a client's `dcr.client.deleted` event (a client is deleted once). */
export const deletedEventId = (clientId: string): string => derivedEventId('dcr.client.deleted', clientId);

/**
 * RFC 7592 §2.3: removes the client from the bank's authorization server, then marks it `deleted`
 * together with its `dcr.client.deleted` event in one conditional write (no second document, so it
 * is atomic on MongoDB without transactions too). The AS goes first: a client we call deleted is
 * never still usable there. When the conditional write loses to a concurrent change (an update
 * being provisioned, whose AS upsert may have come after our AS delete), the AS delete is repeated
 * before the next try. Idempotent: a client already deleted is left as it is and no second event
 * is written. `changed` tells the caller whether to wake the outbox relay. An AS that cannot be
 * reached throws (retryable: the caller answers 503 and the TPP may repeat the DELETE).
 */
export async function deleteClient(
  store: Pick<Store, 'getClient' | 'updateClient'>,
  as: AuthorizationServerPort,
  client: Client,
  clock: () => Date = () => new Date(),
): Promise<{ client: Client; changed: boolean }> {
  let current: Client | null = client;
  for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
    if (!current) throw new RetryableFailure('client_missing', `client ${client.clientId} disappeared while deleting it`);
    if (current.status === 'deleted') return { client: current, changed: false };
    await deleteAtAs(as, current.clientId);
    const now = clock();
    const deleted: Client = { ...current, status: 'deleted', updatedAt: now.toISOString() };
    const stored = await store.updateClient(current.clientId, current.version, {
      set: { status: 'deleted', updatedAt: deleted.updatedAt },
      outbox: [clientEvent('dcr.client.deleted', deleted, now, undefined, deletedEventId(current.clientId))],
    });
    if (stored) return { client: stored, changed: true };
    // Someone else changed the client (an update being provisioned): delete the newer version.
    current = await store.getClient(client.clientId);
  }
  throw new RetryableFailure('concurrent_update', `client ${client.clientId} kept changing while deleting it`);
}
