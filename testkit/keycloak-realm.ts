/**
 * A Keycloak realm for the pipeline, set up through Keycloak's Admin REST API with the bootstrap admin
 * of the master realm (the README recipe "run the pipeline against Keycloak" does the same by hand):
 *
 * - the realm (`DCR_KEYCLOAK_REALM`) with a PS256 signing key as its default algorithm (FAPI);
 * - one OpenID Connect client scope per OBIE scope (`accounts`, `payments`, `fundsconfirmations`),
 *   included in the token's `scope`; `openid` needs none (Keycloak always accepts it);
 * - the provisioner's service account: a confidential client with only the client-credentials grant
 *   and the `manage-clients` role of the realm's `realm-management` client (`DCR_KEYCLOAK_CLIENT_ID`,
 *   `DCR_KEYCLOAK_CLIENT_SECRET`).
 *
 * Idempotent: what exists is kept (the service account's secret is read back, not rotated).
 *
 *   npx tsx testkit/keycloak-realm.ts https://localhost:8443 admin 'password' obie ./keycloak-ca.pem
 */
import { readFileSync } from 'node:fs';
import { httpsRequest, type HttpResponse } from '../sandbox/tpp-client/https-client.js';

/** The OBIE scopes that are Keycloak client scopes (`openid` is not one). */
export const OBIE_CLIENT_SCOPES = ['accounts', 'payments', 'fundsconfirmations'] as const;

export interface KeycloakAdmin {
  /** e.g. https://localhost:8443 */
  url: string;
  /** trust anchors of Keycloak's server certificate */
  caPem: string | string[];
  username: string;
  password: string;
}

export interface KeycloakRealmSetup {
  realm: string;
  /** `${url}/realms/${realm}` (DCR_AS_ISSUER) */
  issuer: string;
  /** `${issuer}/protocol/openid-connect/certs` (DCR_AS_JWKS_URL) */
  jwksUrl: string;
  /** the service account (DCR_KEYCLOAK_CLIENT_ID / DCR_KEYCLOAK_CLIENT_SECRET) */
  clientId: string;
  clientSecret: string;
}

async function call(admin: KeycloakAdmin, token: string, method: string, path: string, body?: unknown): Promise<HttpResponse> {
  return httpsRequest(`${admin.url}/admin/realms${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    identity: { caPem: admin.caPem },
    timeoutMs: 30_000,
  });
}

function expectStatus(res: HttpResponse, what: string, ...ok: number[]): HttpResponse {
  if (!ok.includes(res.status)) throw new Error(`Keycloak: ${what} answered ${res.status}: ${res.text.slice(0, 300)}`);
  return res;
}

/** An admin access token of the master realm (password grant of `admin-cli`). */
export async function adminToken(admin: KeycloakAdmin): Promise<string> {
  const res = await httpsRequest(`${admin.url}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: admin.username, password: admin.password }).toString(),
    identity: { caPem: admin.caPem },
    timeoutMs: 30_000,
  });
  expectStatus(res, 'the admin token request', 200);
  return res.json<{ access_token: string }>().access_token;
}

export async function setUpKeycloakRealm(admin: KeycloakAdmin, options: { realm: string; serviceClientId?: string }): Promise<KeycloakRealmSetup> {
  const { realm } = options;
  const serviceClientId = options.serviceClientId ?? 'dcr-provisioner';
  const token = await adminToken(admin);
  const r = `/${encodeURIComponent(realm)}`;

  const existing = await call(admin, token, 'GET', r);
  if (existing.status === 404) expectStatus(await call(admin, token, 'POST', '', { realm, enabled: true }), `creating realm ${realm}`, 201, 409);
  else expectStatus(existing, `reading realm ${realm}`, 200);

  // FAPI: access tokens signed with PS256 (the pipeline's verifier takes PS256, ES256 or EdDSA only)
  const keys = expectStatus(await call(admin, token, 'GET', `${r}/keys`), 'listing realm keys', 200).json<{ keys?: Array<{ algorithm?: string }> }>();
  if (!keys.keys?.some((k) => k.algorithm === 'PS256')) {
    const realmRep = expectStatus(await call(admin, token, 'GET', r), `reading realm ${realm}`, 200).json<{ id: string }>();
    expectStatus(
      await call(admin, token, 'POST', `${r}/components`, {
        name: 'rsa-ps256',
        providerId: 'rsa-generated',
        providerType: 'org.keycloak.keys.KeyProvider',
        parentId: realmRep.id,
        config: { priority: ['200'], enabled: ['true'], active: ['true'], algorithm: ['PS256'], keySize: ['2048'] },
      }),
      'adding a PS256 realm key',
      201,
    );
  }
  expectStatus(await call(admin, token, 'PUT', r, { realm, defaultSignatureAlgorithm: 'PS256' }), 'setting the realm signature algorithm', 204);

  const scopes = expectStatus(await call(admin, token, 'GET', `${r}/client-scopes`), 'listing client scopes', 200).json<Array<{ name: string }>>();
  for (const name of OBIE_CLIENT_SCOPES) {
    if (scopes.some((s) => s.name === name)) continue;
    expectStatus(
      await call(admin, token, 'POST', `${r}/client-scopes`, {
        name,
        protocol: 'openid-connect',
        description: `OBIE ${name}`,
        attributes: { 'include.in.token.scope': 'true', 'display.on.consent.screen': 'false' },
      }),
      `creating client scope ${name}`,
      201,
      409,
    );
  }

  const find = async (clientId: string) =>
    expectStatus(await call(admin, token, 'GET', `${r}/clients?clientId=${encodeURIComponent(clientId)}`), `finding client ${clientId}`, 200).json<Array<{ id: string }>>()[0];
  let service = await find(serviceClientId);
  if (!service) {
    expectStatus(
      await call(admin, token, 'POST', `${r}/clients`, {
        clientId: serviceClientId,
        name: 'DCR pipeline provisioner',
        protocol: 'openid-connect',
        enabled: true,
        publicClient: false,
        clientAuthenticatorType: 'client-secret',
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
        serviceAccountsEnabled: true,
      }),
      `creating client ${serviceClientId}`,
      201,
      409,
    );
    service = await find(serviceClientId);
  }
  if (!service) throw new Error(`Keycloak: client ${serviceClientId} not found after creating it`);

  const user = expectStatus(await call(admin, token, 'GET', `${r}/clients/${service.id}/service-account-user`), 'reading the service-account user', 200).json<{ id: string }>();
  const management = await find('realm-management');
  if (!management) throw new Error(`Keycloak: realm ${realm} has no realm-management client`);
  const role = expectStatus(await call(admin, token, 'GET', `${r}/clients/${management.id}/roles/manage-clients`), 'reading role manage-clients', 200).json<{ id: string; name: string }>();
  expectStatus(await call(admin, token, 'POST', `${r}/users/${user.id}/role-mappings/clients/${management.id}`, [{ id: role.id, name: role.name }]), 'granting manage-clients', 204);

  const secret = expectStatus(await call(admin, token, 'GET', `${r}/clients/${service.id}/client-secret`), 'reading the service-account secret', 200).json<{ value: string }>();
  const issuer = `${admin.url}/realms/${realm}`;
  return { realm, issuer, jwksUrl: `${issuer}/protocol/openid-connect/certs`, clientId: serviceClientId, clientSecret: secret.value };
}

/** Every client of the realm whose `clientId` is exactly this one (Keycloak's `search=false` lookup). */
export async function keycloakClients(admin: KeycloakAdmin, realm: string, clientId: string): Promise<Array<Record<string, unknown>>> {
  const token = await adminToken(admin);
  const res = await call(admin, token, 'GET', `/${encodeURIComponent(realm)}/clients?clientId=${encodeURIComponent(clientId)}`);
  return expectStatus(res, `finding client ${clientId}`, 200).json<Array<Record<string, unknown>>>().filter((c) => c['clientId'] === clientId);
}

/** The client's default and optional client-scope names. */
export async function keycloakClientScopes(admin: KeycloakAdmin, realm: string, id: string): Promise<{ default: string[]; optional: string[] }> {
  const token = await adminToken(admin);
  const r = `/${encodeURIComponent(realm)}/clients/${id}`;
  const names = (res: HttpResponse) => res.json<Array<{ name: string }>>().map((s) => s.name).sort();
  return {
    default: names(expectStatus(await call(admin, token, 'GET', `${r}/default-client-scopes`), 'default scopes', 200)),
    optional: names(expectStatus(await call(admin, token, 'GET', `${r}/optional-client-scopes`), 'optional scopes', 200)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, username, password, realm, caFile] = process.argv.slice(2);
  if (!url || !username || !password || !realm || !caFile) {
    process.stderr.write('usage: tsx testkit/keycloak-realm.ts KEYCLOAK_URL ADMIN_USER ADMIN_PASSWORD REALM CA_PEM_FILE\n');
    process.exit(2);
  }
  const setup = await setUpKeycloakRealm({ url: url.replace(/\/+$/, ''), username, password, caPem: readFileSync(caFile, 'utf8') }, { realm });
  process.stdout.write(
    [
      `DCR_AS_PROVISIONING=keycloak`,
      `DCR_KEYCLOAK_URL=${url.replace(/\/+$/, '')}`,
      `DCR_KEYCLOAK_REALM=${setup.realm}`,
      `DCR_KEYCLOAK_CLIENT_ID=${setup.clientId}`,
      `DCR_KEYCLOAK_CLIENT_SECRET=${setup.clientSecret}`,
      `DCR_AS_ISSUER=${setup.issuer}`,
      `DCR_AS_JWKS_URL=${setup.jwksUrl}`,
      '',
    ].join('\n'),
  );
}
