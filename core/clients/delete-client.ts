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
 * RFC 7592 §2.3, as an intent that always completes. (1) The intent: the client becomes `deleting`
 * (`deleteRequestedAt`) in a conditional write, with no event; from then on no update can commit on
 * it (its version moved, and the update stage refuses a client that is not `active`), the
 * management API answers 401 for it except to a repeated DELETE, and it keeps its software key.
 * (2) {@link finishDelete}: the bank's AS deletes it, then it becomes `deleted` with its
 * `dcr.client.deleted` event in one conditional write (one document: atomic on MongoDB without
 * transactions too). The AS goes first: a client we call deleted is never still usable there. A
 * crash or an AS/store failure after (1) leaves a `deleting` client, which a repeated DELETE or the
 * delete sweep (core/pipeline/delete-sweep.ts) finishes; both repeat the AS delete (idempotent).
 *
 * An intent write that loses to a concurrent update (committed first) is tried again on the newer
 * version. Idempotent: a client already deleted is left as it is and no second event is written.
 * `changed` tells the caller whether this call wrote the deletion (to wake the outbox relay). An AS
 * that cannot be reached throws (retryable) after the intent is recorded.
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
    if (current.status === 'active') {
      const at = clock().toISOString();
      const intent = await store.updateClient(current.clientId, current.version, { set: { status: 'deleting', deleteRequestedAt: at, updatedAt: at } });
      if (!intent) {
        // An update committed first: record the intent on its version.
        current = await store.getClient(client.clientId);
        continue;
      }
      current = intent;
    }
    const deleted = await finishDelete(store, as, current, clock);
    if (deleted) return { client: deleted, changed: true };
    // Another DELETE or the sweep finished it first (or is about to): look again.
    current = await store.getClient(client.clientId);
  }
  throw new RetryableFailure('concurrent_update', `client ${client.clientId} kept changing while deleting it`);
}

/**
 * Completes a recorded delete intent (a `deleting` client, as the store returned it): the AS delete
 * (a client the AS does not have is a success), then `deleted` with the event under its stable id
 * {@link deletedEventId}, conditional on the intent's version. Null when another write came first
 * (a concurrent DELETE or sweep finished it). Throws when the AS cannot be reached.
 */
export async function finishDelete(
  store: Pick<Store, 'updateClient'>,
  as: AuthorizationServerPort,
  deleting: Client,
  clock: () => Date = () => new Date(),
): Promise<Client | null> {
  if (deleting.status !== 'deleting') throw new Error(`finishDelete on a client that is ${deleting.status}`);
  await deleteAtAs(as, deleting.clientId);
  const now = clock();
  const deleted: Client = { ...deleting, status: 'deleted', updatedAt: now.toISOString() };
  return store.updateClient(deleting.clientId, deleting.version, {
    set: { status: 'deleted', updatedAt: deleted.updatedAt },
    outbox: [clientEvent('dcr.client.deleted', deleted, now, undefined, deletedEventId(deleting.clientId))],
  });
}
