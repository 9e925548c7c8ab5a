import type { Client } from '../../core/domain/client.js';

/** An active client document for store and event tests (tls_client_auth, version 0), with overrides. */
export function aClient(clientId: string, overrides: Partial<Client> = {}): Client {
  const now = new Date().toISOString();
  return {
    clientId,
    requestId: `req-${clientId}`,
    lastRequestId: `req-${clientId}`,
    orgId: 'org',
    softwareId: 'software',
    status: 'active',
    metadata: { client_id: clientId, token_endpoint_auth_method: 'tls_client_auth' },
    tokenHash: 'hash',
    certificateThumbprint: 't',
    tppIdentity: 'org',
    clientIdIssuedAt: Math.floor(Date.now() / 1000),
    createdAt: now,
    updatedAt: now,
    version: 0,
    ...overrides,
  };
}
