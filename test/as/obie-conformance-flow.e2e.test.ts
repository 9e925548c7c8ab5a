/**
 * The OBIE conformance-dcr scenarios DCR-001…011 (SPEC §11) end to end with the bank's AS in the
 * loop: the running pipeline and the sandbox AS (node-oidc-provider, provisioned synchronously by
 * the provision stage, DCR_AS_PROVISIONING=sandbox), on both adapter sets. Like the tool, each test
 * asks for a token once, right after the 201, and once right after the DELETE: no retries. Exactly what the tool sends: one reused SSA, `application/jose`,
 * `exp = iat + 3600`, the Go RDN string of the transport certificate, `tls_client_auth` or
 * `private_key_jwt`; a client-credentials token right after registration; management with that
 * token (never the registration access token).
 */
import { constants, createHash, createPrivateKey, sign as cryptoSign, X509Certificate, type JsonWebKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { requestClientCredentials, startSandboxAs, type RunningSandboxAs, type TokenAuthMethod } from '../../sandbox/sandbox-as/index.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { conformanceDcrClaims } from '../support/conformance-dcr.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

/** The bank's OB organisation id, as the tool's config sets `aud`. */
const AUDIENCE = '0015800001041RHAAY';
const CONFORMANCE_HEADERS = { 'content-type': 'application/jose', accept: 'application/json' };

interface Discovery {
  registration_endpoint: string;
  token_endpoint?: string;
  mtls_endpoint_aliases?: { token_endpoint?: string; registration_endpoint?: string };
  request_object_signing_alg_values_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  response_types_supported?: string[];
}

/** Polls until `done` holds or the deadline passes; returns the last value (no sleeps as synchronisation). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(adapterSets)('OBIE conformance-dcr flow with the sandbox AS, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let as: RunningSandboxAs;
  let tpp: TestTpp;
  let other: TestTpp;
  let discovery: Discovery;
  let staticSsa: string;

  beforeAll(async () => {
    if (skip) return;
    const asPort = await freeTcpPort();
    const issuer = `https://localhost:${asPort}`;
    pipeline = await startTestPipeline({
      ...(infraUrls ? { infra: infraUrls } : {}),
      env: { DCR_AUDIENCE: AUDIENCE, DCR_AS_ISSUER: issuer, DCR_AS_JWKS_URL: `${issuer}/jwks` },
    });
    const tls = await pipeline.directory.issueServerCertificate(['localhost', '127.0.0.1']);
    as = await startSandboxAs(pipeline.rt, { host: '127.0.0.1', port: asPort, tls, clientCaPems: [pipeline.directory.caCertPem] });
    expect(as.issuer).toBe(issuer);
    tpp = await pipeline.createTpp('conformance');
    other = await pipeline.createTpp('interloper');
    staticSsa = tpp.credentials.ssa;
    // The intake reads the AS's discovery document in the background once the AS is up.
    const res = await eventually(
      () => httpsRequest(`${pipeline.intakeUrl}/.well-known/openid-configuration`, { identity: { caPem: pipeline.directory.caCertPem } }),
      (r) => r.status === 200 && typeof r.json<Discovery>().token_endpoint === 'string',
    );
    discovery = res.json<Discovery>();
  });
  afterAll(async () => {
    await as?.stop();
    await pipeline?.stop();
  });

  /** conformance-dcr `jwtSigner.Claims()`. */
  function conformanceClaims(method: TokenAuthMethod, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return conformanceDcrClaims({ tpp, ssa: staticSsa, audience: AUDIENCE, discovery, method }, overrides);
  }

  function tokenEndpoint(): string {
    return discovery.mtls_endpoint_aliases?.token_endpoint ?? discovery.token_endpoint ?? '';
  }

  async function register(method: TokenAuthMethod): Promise<string> {
    const claims = conformanceClaims(method);
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    const res = await tpp.post(await tpp.sign(claims), CONFORMANCE_HEADERS);
    expect(res.status).toBe(201);
    const body = res.json<{ client_id: string }>();
    expect(typeof body.client_id).toBe('string');
    return body.client_id;
  }

  function grant(clientId: string, method: TokenAuthMethod, who: TestTpp = tpp): Promise<HttpResponse> {
    return requestClientCredentials({ tokenEndpoint: tokenEndpoint(), clientId, method, identity: who.identity, credentials: who.credentials });
  }

  /**
   * The client-credentials grant right after registration, once, as conformance-dcr asks for it:
   * `registered` means the AS already knows the client (DCR_AS_PROVISIONING=sandbox).
   */
  async function token(clientId: string, method: TokenAuthMethod): Promise<string> {
    const res = await grant(clientId, method);
    expect(res.status, res.text).toBe(200);
    const body = res.json<{ access_token: string; token_type: string; expires_in: number }>();
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBeGreaterThan(0);
    return body.access_token;
  }

  function manage(method: 'GET' | 'PUT' | 'DELETE', clientId: string, authorization: string | null, body?: string): Promise<HttpResponse> {
    return httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(clientId)}`, {
      method,
      identity: tpp.identity,
      headers: { accept: 'application/json', ...(authorization !== null ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/jose' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
  }

  it.skipIf(skip)('DCR-001: discovery has the registration endpoint and the AS token endpoint (and its mTLS alias)', () => {
    expect(new URL(discovery.registration_endpoint).pathname).toBe('/register');
    expect(discovery.token_endpoint).toBe(as.tokenEndpoint);
    expect(discovery.mtls_endpoint_aliases?.token_endpoint).toBe(as.tokenEndpoint);
    expect(discovery.mtls_endpoint_aliases?.registration_endpoint).toBe(discovery.registration_endpoint);
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['tls_client_auth', 'private_key_jwt']));
  });

  it.skipIf(skip)('DCR-002 (tls_client_auth): 201, a certificate-bound JWT access token from the AS, DELETE 204', async () => {
    const clientId = await register('tls_client_auth');
    const accessToken = await token(clientId, 'tls_client_auth');
    expect(decodeProtectedHeader(accessToken)).toMatchObject({ typ: 'at+jwt', alg: 'PS256' });
    const claims = decodeJwt(accessToken);
    expect(claims).toMatchObject({ iss: as.issuer, client_id: clientId });
    const thumbprint = createHash('sha256').update(new X509Certificate(tpp.identity.certPem).raw).digest('base64url');
    expect(claims.cnf).toEqual({ 'x5t#S256': thumbprint });
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
  });

  it.skipIf(skip)('DCR-002 (private_key_jwt): 201, token with a PS256 client assertion, DELETE 204', async () => {
    const clientId = await register('private_key_jwt');
    const accessToken = await token(clientId, 'private_key_jwt');
    expect(decodeJwt(accessToken).client_id).toBe(clientId);
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
  });

  it.skipIf(skip)('DCR-003 / DCR-010: DELETE 204, then GET with the same token 401, and the client gets no more tokens', async () => {
    const clientId = await register('tls_client_auth');
    const accessToken = await token(clientId, 'tls_client_auth');
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
    const get = await manage('GET', clientId, `Bearer ${accessToken}`);
    expect(get.status).toBe(401);
    expect(String(get.headers['www-authenticate'])).toMatch(/^Bearer .*error="invalid_token"/);
    expect(get.json()).toMatchObject({ error: 'invalid_token' });
    // The 204 came after the AS removed the client: the very next grant is refused.
    const refused = await grant(clientId, 'tls_client_auth');
    expect(refused.status).toBe(401);
    expect(refused.json()).toMatchObject({ error: 'invalid_client' });
  });

  describe('DCR-004: invalid registration requests fail with 400', () => {
    it.skipIf(skip)('(a) exp = iat - 1h; (b–d) bad iss', async () => {
      const iat = Math.floor(Date.now() / 1000);
      for (const overrides of [{ iat, exp: iat - 3600 }, { iss: 'foo.is/invalid' }, { iss: '' }, { iss: '123456789012345678901234567890' }]) {
        const res = await tpp.post(await tpp.sign(conformanceClaims('tls_client_auth', overrides)), CONFORMANCE_HEADERS);
        expect(res.status).toBe(400);
        expect(res.json()).toMatchObject({ error: 'invalid_client_metadata' });
      }
    });

    it.skipIf(skip)('(e) signed with RS256, id_token_signed_response_alg and token_endpoint_auth_signing_alg RS256 (private_key_jwt)', async () => {
      const claims = conformanceClaims('private_key_jwt', { id_token_signed_response_alg: 'RS256', token_endpoint_auth_signing_alg: 'RS256' });
      const signingInput = [
        Buffer.from(JSON.stringify({ alg: 'RS256', kid: tpp.credentials.kid, typ: 'JWT' })).toString('base64url'),
        Buffer.from(JSON.stringify(claims)).toString('base64url'),
      ].join('.');
      const key = createPrivateKey({ key: tpp.credentials.signingJwk as JsonWebKey, format: 'jwk' });
      const signature = cryptoSign('sha256', Buffer.from(signingInput), { key, padding: constants.RSA_PKCS1_PADDING }).toString('base64url');
      const res = await tpp.post(`${signingInput}.${signature}`, CONFORMANCE_HEADERS);
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    });
  });

  it.skipIf(skip)('DCR-005: GET with the AS token → 200 with the registration; DELETE 204', async () => {
    const clientId = await register('tls_client_auth');
    const accessToken = await token(clientId, 'tls_client_auth');
    const res = await manage('GET', clientId, `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ client_id: clientId, token_endpoint_auth_method: 'tls_client_auth', software_statement: staticSsa });
    expect(body).not.toHaveProperty('registration_access_token');
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
  });

  it.skipIf(skip)('DCR-007: GET with an empty Bearer token → 401; then token + DELETE 204', async () => {
    const clientId = await register('tls_client_auth');
    const empty = await manage('GET', clientId, 'Bearer ');
    expect(empty.status).toBe(401);
    expect(String(empty.headers['www-authenticate'])).toMatch(/^Bearer .*/);
    expect(empty.json()).toMatchObject({ error: 'invalid_token' });
    const accessToken = await token(clientId, 'tls_client_auth');
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
  });

  it.skipIf(skip)('DCR-008: PUT with freshly generated claims (new jti, no client_id) → 200; the AS keeps issuing; DELETE 204', async () => {
    const clientId = await register('tls_client_auth');
    const accessToken = await token(clientId, 'tls_client_auth');
    const claims = conformanceClaims('tls_client_auth', { scope: 'openid accounts' });
    expect(claims).not.toHaveProperty('client_id');
    const res = await manage('PUT', clientId, `Bearer ${accessToken}`, await tpp.sign(claims));
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toMatchObject({ client_id: clientId, scope: 'openid accounts' });
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.updated' && e.subject === clientId);
    expect((await grant(clientId, 'tls_client_auth')).status).toBe(200);
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
  });

  it.skipIf(skip)('DCR-009: DELETE 204, then PUT with the same token → 401', async () => {
    const clientId = await register('tls_client_auth');
    const accessToken = await token(clientId, 'tls_client_auth');
    expect((await manage('DELETE', clientId, `Bearer ${accessToken}`)).status).toBe(204);
    const put = await manage('PUT', clientId, `Bearer ${accessToken}`, await tpp.sign(conformanceClaims('tls_client_auth')));
    expect(put.status).toBe(401);
    expect(put.json()).toMatchObject({ error: 'invalid_token' });
  });

  it.skipIf(skip)("DCR-011: response_types ['id_token', 'token'] → 400 with a JSON body", async () => {
    const res = await tpp.post(await tpp.sign(conformanceClaims('tls_client_auth', { response_types: ['id_token', 'token'] })), CONFORMANCE_HEADERS);
    expect(res.status).toBe(400);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it.skipIf(skip)("an AS token opens only its own client, only with its certificate, and a tampered one nothing", async () => {
    const first = await register('tls_client_auth');
    const second = await register('tls_client_auth');
    const firstToken = await token(first, 'tls_client_auth');
    // Another client's token: client_id does not match the path.
    expect((await manage('GET', second, `Bearer ${firstToken}`)).status).toBe(401);
    // A flipped signature.
    const [h, p, s = ''] = firstToken.split('.');
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await manage('GET', first, `Bearer ${tampered}`)).status).toBe(401);
    // Another TPP's certificate: the token is bound to the registering TPP's certificate.
    const foreign = await httpsRequest(`${pipeline.intakeUrl}/register/${first}`, { identity: other.identity, headers: { authorization: `Bearer ${firstToken}` } });
    expect(foreign.status).toBe(401);
    // With the right certificate it still opens the client.
    expect((await manage('GET', first, `Bearer ${firstToken}`)).status).toBe(200);
  });

  it.skipIf(skip)('tokens signed with the AS key but expired, from another issuer, typed JWT, for another client or audience, or bound otherwise: 401', async () => {
    const clientId = await register('tls_client_auth');
    const real = decodeJwt(await token(clientId, 'tls_client_auth'));
    const jwk = JSON.parse(await readFile(join(pipeline.dataDir, 'sandbox-as', 'signing-key.jwk.json'), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'PS256');
    const forge = (claims: Record<string, unknown>, typ = 'at+jwt') => new SignJWT({ ...real, ...claims }).setProtectedHeader({ alg: 'PS256', kid: String(jwk.kid), typ }).sign(key);
    const now = Math.floor(Date.now() / 1000);
    // The same claims re-signed are accepted: the refusals below are the changed claim's doing.
    expect((await manage('GET', clientId, `Bearer ${await forge({})}`)).status).toBe(200);
    for (const forged of [
      await forge({ iat: now - 7200, exp: now - 3600 }),
      await forge({ iss: 'https://other-as.example' }),
      await forge({}, 'JWT'),
      await forge({ client_id: 'SomeOtherClient' }),
      await forge({ cnf: { 'x5t#S256': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }),
      // Issue 17 finding 6: an audience that is not this service (RFC 9068 §4), no audience at all, and a
      // confirmation this call cannot prove (an empty cnf, a DPoP key thumbprint).
      await forge({ aud: 'https://another-resource.example' }),
      await forge({ aud: undefined }),
      await forge({ cnf: {} }),
      await forge({ cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }),
    ]) {
      const res = await manage('GET', clientId, `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_token' });
    }
  });
});
