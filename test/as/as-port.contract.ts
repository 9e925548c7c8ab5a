/**
 * The authorization-server port's contract (core/ports/authorization-server.ts), run against every
 * adapter that provisions into a real AS (test/as/keycloak-flow.e2e.test.ts, test/as/sandbox-as-port.test.ts):
 * - upsert twice with the same client id: one client at the AS, with the last call's metadata;
 * - delete: the client is gone; delete of an absent client resolves;
 * - metadata the AS cannot carry: {@link AsClientRefused} with a precise description, nothing created.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsClientRefused, type AuthorizationServerPort } from '../../core/ports/authorization-server.js';

export interface AsPortHarness {
  as: AuthorizationServerPort;
  /** Live clients with exactly this client id at the AS (0 or 1 when the contract holds). */
  count(clientId: string): Promise<number>;
  /** The subject DN the AS checks for the client's certificate (shows which metadata won). */
  subjectDn(clientId: string): Promise<string | undefined>;
  /** Metadata this AS refuses and the description it must give; null when it refuses none. */
  refusal: { metadata: Record<string, unknown>; description: string } | null;
  close(): Promise<void>;
}

export function tlsClientMetadata(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=contract.example,OU=0015800001041RHAAY,O=Contract Ltd.,C=GB',
    tls_client_certificate_bound_access_tokens: true,
    scope: 'openid accounts',
    ...overrides,
  };
}

export function describeAsPortContract(name: string, open: () => Promise<AsPortHarness>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip === true)(`the ${name} adapter keeps the authorization-server port contract`, () => {
    let h: AsPortHarness;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      await h?.close();
    });
    const client = (clientId: string, metadata: Record<string, unknown>) => ({ clientId, orgId: 'org-contract', softwareId: 'sw-contract', metadata });

    it('upsert twice: one client with the last metadata; delete: gone', async () => {
      const clientId = `contract-${randomUUID()}`;
      await h.as.upsertClient(client(clientId, tlsClientMetadata()));
      await h.as.upsertClient(client(clientId, tlsClientMetadata({ tls_client_auth_subject_dn: 'CN=second.example,O=Contract Ltd.,C=GB' })));
      expect(await h.count(clientId)).toBe(1);
      expect(await h.subjectDn(clientId)).toBe('CN=second.example,O=Contract Ltd.,C=GB');
      await h.as.deleteClient(clientId);
      expect(await h.count(clientId)).toBe(0);
      await expect(h.as.deleteClient(clientId)).resolves.toBeUndefined();
    });

    it('delete of a client the AS never had resolves', async () => {
      await expect(h.as.deleteClient(`absent-${randomUUID()}`)).resolves.toBeUndefined();
    });

    it('metadata the AS cannot carry is refused with a precise description, and nothing is created', async (ctx) => {
      if (!h.refusal) ctx.skip();
      const refusal = h.refusal!;
      const clientId = `contract-${randomUUID()}`;
      const error = await h.as.upsertClient(client(clientId, refusal.metadata)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AsClientRefused);
      expect((error as AsClientRefused).description).toBe(refusal.description);
      expect(await h.count(clientId)).toBe(0);
    });
  });
}
