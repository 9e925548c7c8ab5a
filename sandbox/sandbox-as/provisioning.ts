import type { AsClient, AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import type { SandboxAuthorizationServerFactory } from '../../platform/runtime/authorization-server.js';
import type { AsStore } from '../../core/ports/sandbox-as-store.js';
import { openAsStore } from '../../platform/runtime/service-stores.js';

/** The registered metadata the sandbox AS reads (sandbox/sandbox-as/server.ts `providerClient`). */
const AS_MEMBERS = [
  'software_id',
  'org_id',
  'scope',
  'redirect_uris',
  'grant_types',
  'jwks_uri',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'tls_client_auth_subject_dn',
  'tls_client_certificate_bound_access_tokens',
] as const;

/**
 * `DCR_AS_PROVISIONING=sandbox`: writes the client straight into the sandbox AS's store (SQLite
 * file under DCR_DATA_DIR, or its MongoDB collection), so the AS knows the client before the TPP
 * is told `registered`. Each write is stamped with the time it is made; the AS's event consumer
 * keeps applying `dcr.client.v1` too, and an event older than the last write is stale there, so the
 * two paths never undo each other. Keyed by client id: a repeated upsert leaves one client.
 */
export class SandboxAsProvisioning implements AuthorizationServerPort {
  readonly name = 'sandbox' as const;
  #last = 0;

  constructor(private readonly store: AsStore) {}

  /** Strictly increasing write times, so two writes in one millisecond still order. */
  #now(): number {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return this.#last;
  }

  async upsertClient(client: AsClient): Promise<void> {
    const data: Record<string, unknown> = { client_id: client.clientId, status: 'active', software_id: client.softwareId, org_id: client.orgId };
    for (const member of AS_MEMBERS) if (client.metadata[member] !== undefined) data[member] = client.metadata[member];
    const timeMs = this.#now();
    await this.store.applyClient({ id: `provision:${client.clientId}:${timeMs}`, timeMs, clientId: client.clientId, status: 'active', data });
  }

  async deleteClient(clientId: string): Promise<void> {
    const existing = await this.store.getClient(clientId);
    if (!existing || existing.status === 'deleted') return;
    const timeMs = this.#now();
    await this.store.applyClient({ id: `deprovision:${clientId}:${timeMs}`, timeMs, clientId, status: 'deleted', data: { ...existing.data, status: 'deleted' } });
  }

  async awaitApplied(_change: { clientId: string; eventId: string; deadline: number }): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** The factory the sandbox entry points hand to the runtime (`sandboxAuthorizationServer`). */
export const sandboxAuthorizationServer: SandboxAuthorizationServerFactory = async ({ config }) => new SandboxAsProvisioning(await openAsStore(config));
