/**
 * The OBIE flow the way conformance-dcr runs it, with a real Keycloak 26 as the bank's AS
 * (DCR_AS_PROVISIONING=keycloak), on both adapter sets: register; a client-credentials token from
 * Keycloak at once and once (no retry); GET, PUT, DELETE with that token; no more tokens; GET 401.
 * Also: Keycloak unreachable during a registration (failed, replayed once it is back: one client);
 * the provisioner failing between the Keycloak call and its commit (one client); the adapter under
 * the port's shared contract (test/as/as-port.contract.ts) and its metadata mapping.
 *
 * The run's Keycloak (test/setup/global-infra.ts) trusts one test CA; each pipeline's sandbox
 * directory adopts it (`directoryCa`), so Keycloak accepts its TPPs' transport certificates. The
 * pipeline reaches Keycloak's Admin API through a TCP proxy the test can close (Keycloak "down"
 * for the pipeline, still up for the others); TPPs ask Keycloak for tokens directly.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeycloakAuthorizationServer } from '../../platform/adapters/authorization-server/keycloak.js';
import { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import { replayRegistration } from '../../core/pipeline/replay.js';
import { AsClientRefused, AsUnavailable } from '../../core/ports/authorization-server.js';
import type { Store } from '../../core/ports/store.js';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { requestClientCredentials, type TokenAuthMethod } from '../../sandbox/sandbox-as/index.js';
import type { ProvidedKeycloak } from '../support/infra-context.js';
import { keycloakClients, keycloakClientScopes, type KeycloakAdmin } from '../support/keycloak.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { conformanceDcrClaims } from '../support/conformance-dcr.js';
import { settled, submit } from '../revocation/helpers.js';
import { describeAsPortContract, tlsClientMetadata } from './as-port.contract.js';

const infra = inject('infra');
const keycloak: ProvidedKeycloak | null = infra?.keycloak ?? null;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];
const AUDIENCE = '0015800001041RHAAY';
const CONFORMANCE_HEADERS = { 'content-type': 'application/jose', accept: 'application/json' };

interface Discovery {
  registration_endpoint: string;
  token_endpoint?: string;
  mtls_endpoint_aliases?: { token_endpoint?: string; registration_endpoint?: string };
  request_object_signing_alg_values_supported: string[];
  response_types_supported?: string[];
}

/** A TCP proxy to Keycloak that can be closed (connections refused) and opened again on the same port. */
class ClosableProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}
  async open(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect(this.target, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.#server = server;
  }
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe.each(adapterSets)('OBIE flow against a real Keycloak, %s', (_name, infraUrls) => {
  const skip = infraUrls === null || keycloak === null;
  const kc = keycloak as ProvidedKeycloak;
  let admin: KeycloakAdmin;
  let proxy: ClosableProxy;
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let discovery: Discovery;

  beforeAll(async () => {
    if (skip) return;
    admin = { url: kc.url, caPem: readFileSync(kc.caCertFile, 'utf8'), username: kc.adminUsername, password: kc.adminPassword };
    proxy = new ClosableProxy(Number(new URL(kc.url).port));
    await proxy.open();
    pipeline = await startTestPipeline({
      ...(infraUrls ? { infra: infraUrls } : {}),
      directoryCa: { certFile: kc.caCertFile, keyFile: kc.caKeyFile },
      env: {
        DCR_AUDIENCE: AUDIENCE,
        DCR_AS_PROVISIONING: 'keycloak',
        DCR_KEYCLOAK_URL: `https://localhost:${proxy.port}`,
        DCR_KEYCLOAK_REALM: kc.realm,
        DCR_KEYCLOAK_CLIENT_ID: kc.clientId,
        DCR_KEYCLOAK_CLIENT_SECRET: kc.clientSecret,
        DCR_AS_ISSUER: kc.issuer,
        DCR_AS_JWKS_URL: kc.jwksUrl,
      },
    });
    tpp = await pipeline.createTpp('keycloak-tpp');
    // The intake reads Keycloak's discovery document in the background: wait for its first read.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await httpsRequest(`${pipeline.intakeUrl}/.well-known/openid-configuration`, { identity: { caPem: pipeline.directory.caCertPem } });
      discovery = res.json<Discovery>();
      if (typeof discovery.token_endpoint === 'string' || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await pipeline?.stop();
    await proxy?.close();
  });

  const tokenEndpoint = () => discovery.mtls_endpoint_aliases?.token_endpoint ?? discovery.token_endpoint ?? '';
  const claims = (method: TokenAuthMethod, overrides: Record<string, unknown> = {}) => conformanceDcrClaims({ tpp, ssa: tpp.credentials.ssa, audience: AUDIENCE, discovery, method }, overrides);
  const grant = (clientId: string, method: TokenAuthMethod): Promise<HttpResponse> =>
    requestClientCredentials({ tokenEndpoint: tokenEndpoint(), clientId, method, identity: tpp.identity, credentials: tpp.credentials });
  const manage = (method: 'GET' | 'PUT' | 'DELETE', clientId: string, token: string, body?: string): Promise<HttpResponse> =>
    httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(clientId)}`, {
      method,
      identity: tpp.identity,
      headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/jose' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });

  it.skipIf(skip)("discovery carries Keycloak's token endpoint and its mTLS alias", () => {
    expect(discovery.token_endpoint).toBe(`${kc.issuer}/protocol/openid-connect/token`);
    expect(discovery.mtls_endpoint_aliases?.token_endpoint).toBe(`${kc.issuer}/protocol/openid-connect/token`);
    expect(discovery.mtls_endpoint_aliases?.registration_endpoint).toBe(discovery.registration_endpoint);
  });

  for (const method of ['tls_client_auth', 'private_key_jwt'] as const) {
    it.skipIf(skip)(`${method}: 201, a certificate-bound token at once, GET/PUT/DELETE with it, then no token and GET 401`, async () => {
      const res = await tpp.post(await tpp.sign(claims(method)), CONFORMANCE_HEADERS);
      expect(res.status, res.text).toBe(201);
      const clientId = res.json<{ client_id: string }>().client_id;

      // Keycloak has exactly one client for it, with the settings a FAPI client needs.
      const [client, ...more] = await keycloakClients(admin, kc.realm, clientId);
      expect(more).toHaveLength(0);
      const attributes = (client?.['attributes'] ?? {}) as Record<string, string>;
      expect(client).toMatchObject({ publicClient: false, serviceAccountsEnabled: true, standardFlowEnabled: true, implicitFlowEnabled: false, directAccessGrantsEnabled: false });
      expect(client?.['redirectUris']).toEqual(tpp.credentials.redirectUris);
      expect(attributes).toMatchObject({ 'tls.client.certificate.bound.access.tokens': 'true', 'access.token.header.type.rfc9068': 'true', 'access.token.signed.response.alg': 'PS256' });
      if (method === 'tls_client_auth') {
        expect(client?.['clientAuthenticatorType']).toBe('client-x509');
        expect(attributes['x509.subjectdn']).toBe(claims(method)['tls_client_auth_subject_dn']);
        expect(attributes['x509.allow.regex.pattern.comparison']).toBe('false');
      } else {
        expect(client?.['clientAuthenticatorType']).toBe('client-jwt');
        expect(attributes).toMatchObject({ 'use.jwks.url': 'true', 'jwks.url': tpp.sandbox.softwareJwksUrl, 'token.endpoint.auth.signing.alg': 'PS256' });
      }
      expect((await keycloakClientScopes(admin, kc.realm, String(client?.['id']))).optional).toEqual(['accounts']);

      // Immediately and once, as the conformance tool asks.
      const issued = await grant(clientId, method);
      expect(issued.status, issued.text).toBe(200);
      const accessToken = issued.json<{ access_token: string }>().access_token;
      expect(decodeProtectedHeader(accessToken)).toMatchObject({ typ: 'at+jwt', alg: 'PS256' });
      const thumbprint = createHash('sha256').update(new X509Certificate(tpp.identity.certPem).raw).digest('base64url');
      const tokenClaims = decodeJwt(accessToken);
      expect(tokenClaims).toMatchObject({ iss: kc.issuer, client_id: clientId, azp: clientId, cnf: { 'x5t#S256': thumbprint } });
      // the client's audience mapper names this service
      expect([tokenClaims.aud].flat()).toContain(pipeline.rt.config.publicUrl);

      const read = await manage('GET', clientId, accessToken);
      expect(read.status, read.text).toBe(200);
      expect(read.json()).toMatchObject({ client_id: clientId, token_endpoint_auth_method: method });

      const put = await manage('PUT', clientId, accessToken, await tpp.sign(claims(method, { scope: 'openid accounts payments' })));
      expect(put.status, put.text).toBe(200);
      expect(put.json()).toMatchObject({ client_id: clientId, scope: 'openid accounts payments' });
      // The 200 came after Keycloak took the update.
      const updated = await keycloakClients(admin, kc.realm, clientId);
      expect(updated).toHaveLength(1);
      expect((await keycloakClientScopes(admin, kc.realm, String(updated[0]?.['id']))).optional).toEqual(['accounts', 'payments']);

      expect((await manage('DELETE', clientId, accessToken)).status).toBe(204);
      expect(await keycloakClients(admin, kc.realm, clientId)).toHaveLength(0);
      const refused = await grant(clientId, method);
      expect(refused.status).toBe(401);
      expect(refused.json()).toMatchObject({ error: 'invalid_client' });
      const gone = await manage('GET', clientId, accessToken);
      expect(gone.status).toBe(401);
      expect(gone.json()).toMatchObject({ error: 'invalid_token' });
    });
  }

  it.skipIf(skip)('Keycloak unreachable: the registration fails naming the AS and the error; replayed once it is back: one client there', async () => {
    await proxy.close();
    let requestId: string;
    try {
      requestId = await submit(tpp, claims('tls_client_auth'));
      const failed = await settled(pipeline.rt, requestId);
      expect(failed.status).toBe('failed');
      expect(failed.failedStage).toBe('provision');
      expect(failed.lastError).toMatch(/^authorization_server_unavailable: authorization server \(keycloak\) failed while provisioning the client: keycloak: /);
      expect(failed.history.some((h) => h.event === 'attempt_failed' && h.stage === 'provision' && /keycloak/.test(h.error ?? ''))).toBe(true);
    } finally {
      await proxy.open();
    }
    const replay = await replayRegistration(pipeline.rt.adapters.store, pipeline.rt.dispatcher, requestId, { actor: 'keycloak-test', onCommitted: () => pipeline.rt.kickRelay() });
    expect(replay.replayed).toBe(true);
    const recovered = await settled(pipeline.rt, requestId);
    expect(recovered.status).toBe('registered');
    expect(await keycloakClients(admin, kc.realm, String(recovered.clientId))).toHaveLength(1);
    expect((await grant(String(recovered.clientId), 'tls_client_auth')).status).toBe(200);
  });

  it.skipIf(skip)('the provisioner fails after Keycloak took the client and before its commit: the retry leaves one client', async () => {
    // The store the provision stage writes through: its first client insert fails as a crash there would
    // (after the Keycloak call, before our commit); the stage's next attempt upserts the same client id.
    const store = pipeline.rt.adapters.store as Store;
    const insertClient = store.insertClient.bind(store);
    let failures = 0;
    store.insertClient = async (...args: Parameters<Store['insertClient']>) => {
      if (failures === 0) {
        failures++;
        const present = await keycloakClients(admin, kc.realm, args[0].clientId);
        expect(present).toHaveLength(1); // Keycloak has it already
        throw new Error('simulated crash between the Keycloak call and the commit');
      }
      return insertClient(...args);
    };
    try {
      const requestId = await submit(tpp, claims('tls_client_auth'));
      const done = await settled(pipeline.rt, requestId);
      expect(failures).toBe(1);
      expect(done.status).toBe('registered');
      expect(done.history.some((h) => h.event === 'attempt_failed' && h.stage === 'provision' && /simulated crash/.test(h.error ?? ''))).toBe(true);
      expect(await keycloakClients(admin, kc.realm, String(done.clientId))).toHaveLength(1);
    } finally {
      store.insertClient = insertClient;
    }
  });
});

describeAsPortContract(
  'Keycloak',
  async () => {
    const kc = keycloak as ProvidedKeycloak;
    const caPem = readFileSync(kc.caCertFile, 'utf8');
    const admin: KeycloakAdmin = { url: kc.url, caPem, username: kc.adminUsername, password: kc.adminPassword };
    const fetcher = new OutboundFetcher({ allowedHosts: [new URL(kc.url).host], ca: [caPem], connectTimeoutMs: 5000, totalTimeoutMs: 30_000, maxBytes: 1_000_000 });
    const as = new KeycloakAuthorizationServer({ url: kc.url, realm: kc.realm, clientId: kc.clientId, clientSecret: kc.clientSecret, audience: 'https://dcr.example', fetcher });
    return {
      as,
      count: async (clientId) => (await keycloakClients(admin, kc.realm, clientId)).length,
      subjectDn: async (clientId) => ((await keycloakClients(admin, kc.realm, clientId))[0]?.['attributes'] as Record<string, string> | undefined)?.['x509.subjectdn'],
      refusal: { metadata: tlsClientMetadata({ scope: 'openid accounts unknown-scope' }), description: "scope unknown-scope is not a client scope of the bank's realm" },
      close: () => as.close(),
    };
  },
  { skip: keycloak === null },
);

describe.skipIf(keycloak === null)('the Keycloak adapter maps the metadata', () => {
  const kc = keycloak as ProvidedKeycloak;
  let as: KeycloakAuthorizationServer;
  let admin: KeycloakAdmin;

  beforeAll(() => {
    const caPem = readFileSync(kc.caCertFile, 'utf8');
    admin = { url: kc.url, caPem, username: kc.adminUsername, password: kc.adminPassword };
    const fetcher = new OutboundFetcher({ allowedHosts: [new URL(kc.url).host], ca: [caPem], connectTimeoutMs: 5000, totalTimeoutMs: 30_000, maxBytes: 1_000_000 });
    as = new KeycloakAuthorizationServer({ url: kc.url, realm: kc.realm, clientId: kc.clientId, clientSecret: kc.clientSecret, audience: 'https://dcr.example', fetcher });
  });

  it('an update replaces the optional client scopes and keeps the defaults; no code flow without authorization_code', async () => {
    const clientId = `mapping-${randomUUID()}`;
    await as.upsertClient({ clientId, orgId: 'org-1', softwareId: 'sw-1', metadata: tlsClientMetadata() });
    await as.upsertClient({ clientId, orgId: 'org-1', softwareId: 'sw-1', metadata: tlsClientMetadata({ scope: 'openid payments fundsconfirmations' }) });
    const [found] = await keycloakClients(admin, kc.realm, clientId);
    expect(found).toMatchObject({ standardFlowEnabled: false, serviceAccountsEnabled: true, redirectUris: [], clientAuthenticatorType: 'client-x509' });
    expect(await keycloakClientScopes(admin, kc.realm, String(found?.['id']))).toEqual({ default: ['basic', 'service_account'], optional: ['fundsconfirmations', 'payments'] });
    // one audience mapper, written on create and kept by the update
    expect(found?.['protocolMappers']).toEqual([
      expect.objectContaining({ name: 'dcr-audience', protocolMapper: 'oidc-audience-mapper', config: expect.objectContaining({ 'included.custom.audience': 'https://dcr.example', 'access.token.claim': 'true' }) }),
    ]);
    await as.deleteClient(clientId);
  });

  it('refuses what Keycloak cannot carry, precisely', async () => {
    const refused = async (metadata: Record<string, unknown>) => {
      const error = await as.upsertClient({ clientId: `mapping-${randomUUID()}`, orgId: 'org-1', softwareId: 'sw-1', metadata }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AsClientRefused);
      return (error as AsClientRefused).description;
    };
    expect(await refused(tlsClientMetadata({ tls_client_auth_subject_dn: undefined }))).toBe('tls_client_auth needs tls_client_auth_subject_dn');
    expect(await refused(tlsClientMetadata({ token_endpoint_auth_method: 'client_secret_basic' }))).toBe('token_endpoint_auth_method client_secret_basic is not provisioned at Keycloak (tls_client_auth or private_key_jwt)');
    expect(await refused(tlsClientMetadata({ token_endpoint_auth_method: 'private_key_jwt' }))).toBe('private_key_jwt needs jwks_uri or jwks');
    expect(await refused(tlsClientMetadata({ grant_types: ['authorization_code'] }))).toBe('authorization_code needs redirect_uris');
  });

  it('a service account without a valid secret is the AS being unusable (retryable), not a refusal', async () => {
    const caPem = readFileSync(kc.caCertFile, 'utf8');
    const fetcher = new OutboundFetcher({ allowedHosts: [new URL(kc.url).host], ca: [caPem], connectTimeoutMs: 5000, totalTimeoutMs: 30_000, maxBytes: 1_000_000 });
    const wrong = new KeycloakAuthorizationServer({ url: kc.url, realm: kc.realm, clientId: kc.clientId, clientSecret: 'not-the-secret', audience: 'https://dcr.example', fetcher });
    const error = await wrong.upsertClient({ clientId: `mapping-${randomUUID()}`, orgId: 'org-1', softwareId: 'sw-1', metadata: tlsClientMetadata() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AsUnavailable);
    expect((error as Error).message).toMatch(/^keycloak: the service account dcr-provisioner got no token \(HTTP 401: /);
    expect((error as Error).message).not.toContain('not-the-secret');
  });
});
