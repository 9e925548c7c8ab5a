import type { AsClient, AuthorizationServerPort } from '../../../core/ports/authorization-server.js';

/**
 * `DCR_AS_PROVISIONING=store`: the bank's AS reads clients from our store (MongoDB collection
 * `clients`, or the embedded SQLite file) itself, so a client is usable at the AS once our commit
 * is durable, and there is nothing to call. `registered` then guarantees exactly that commit.
 */
export class StoreOnlyAuthorizationServer implements AuthorizationServerPort {
  readonly name = 'store' as const;

  async upsertClient(_client: AsClient): Promise<void> {
    // The commit that follows is the provisioning.
  }

  async deleteClient(_clientId: string): Promise<void> {
    // The client's `deleted` status, committed next, is what the AS reads.
  }

  async awaitApplied(_change: { clientId: string; eventId: string; deadline: number }): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
