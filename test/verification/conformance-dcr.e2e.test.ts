/**
 * OBIE conformance-dcr scenarios (SPEC §11) over HTTP, sending exactly what the Go tool sends
 * (`pkg/compliant/auth/signer.go`, `response_type_resolver.go`): `application/jose`, PS256 with
 * `kid` and `typ: JWT`, `exp = iat + 3600`, a lower-case UUIDv4 `jti`, grant types
 * [authorization_code, client_credentials], `subject_type: public`, application type `web`, scope
 * `accounts openid`, `token_endpoint_auth_signing_alg` always, `tls_client_auth` with the Go RDN
 * string of the transport certificate, and one static SSA for every registration.
 * DCR-003 and DCR-005/007–010 (management) are covered by test/management.
 */
import { constants, createPrivateKey, sign as cryptoSign, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REJECTION_CODES } from '../../core/domain/errors.js';
import type { Registration } from '../../core/domain/registration.js';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { conformanceDcrClaims } from '../support/conformance-dcr.js';

/** The bank's OB organisation id, as the tool's config sets `aud` (Base62, ≤ 18). */
const AUDIENCE = '0015800001041RHAAY';
const CONFORMANCE_HEADERS = { 'content-type': 'application/jose', accept: 'application/json' };

interface Discovery {
  registration_endpoint?: unknown;
  request_object_signing_alg_values_supported?: unknown;
  token_endpoint_auth_signing_alg_values_supported?: unknown;
  token_endpoint_auth_methods_supported?: unknown;
  response_types_supported?: unknown;
}

/** conformance-dcr `responseTypeResolve`: keep `code` and `code id_token`, nothing when absent. */
function resolveResponseTypes(supported: unknown): string[] | undefined {
  if (!Array.isArray(supported)) return undefined;
  return supported.filter((t): t is string => t === 'code' || t === 'code id_token');
}

describe('OBIE conformance-dcr scenarios (SPEC §11), embedded adapters', () => {
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let discovery: Discovery;
  /** The one SSA from the tool's config file, reused for every registration. */
  let staticSsa: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { DCR_AUDIENCE: AUDIENCE } });
    tpp = await pipeline.createTpp('conformance');
    staticSsa = tpp.credentials.ssa;
    const res = await httpsRequest(`${pipeline.intakeUrl}/.well-known/openid-configuration`, { identity: { caPem: pipeline.directory.caCertPem } });
    expect(res.status).toBe(200);
    discovery = res.json<Discovery>();
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** conformance-dcr `jwtSigner.Claims()` for `tls_client_auth`. */
  function conformanceClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return conformanceDcrClaims({ tpp, ssa: staticSsa, audience: AUDIENCE, discovery, method: 'tls_client_auth' }, overrides);
  }

  async function registrationIds(): Promise<Set<string>> {
    return new Set((await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 })).map((r) => r.id));
  }

  async function post(body: string): Promise<{ res: HttpResponse; recorded: Registration[] }> {
    const before = await registrationIds();
    const res = await tpp.post(body, CONFORMANCE_HEADERS);
    const recorded = (await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 })).filter((r) => !before.has(r.id));
    return { res, recorded };
  }

  /** A 400 whose body is a JSON object with a standard code, and no client came of it. */
  function expectBadRequest({ res, recorded }: { res: HttpResponse; recorded: Registration[] }, code: string, because: RegExp) {
    expect(res.status).toBe(400);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    const body = JSON.parse(res.text) as unknown;
    expect(typeof body === 'object' && body !== null && !Array.isArray(body)).toBe(true);
    const { error, error_description: description } = body as { error: unknown; error_description: unknown };
    expect(REJECTION_CODES).toContain(error);
    expect(error).toBe(code);
    expect(String(description)).toMatch(because);
    for (const r of recorded) {
      expect(r.status).toBe('rejected');
      expect(r.clientId ?? null).toBeNull();
    }
  }

  it('DCR-001: discovery has a valid registration_endpoint and PS256 first in request_object_signing_alg_values_supported', () => {
    const endpoint = new URL(String(discovery.registration_endpoint));
    expect(endpoint.protocol).toBe('https:');
    expect(endpoint.pathname).toBe('/register');
    expect((discovery.request_object_signing_alg_values_supported as string[])[0]).toBe('PS256');
    // The tool aborts when this list exists without PS256.
    expect(discovery.token_endpoint_auth_signing_alg_values_supported).toContain('PS256');
    expect(discovery.token_endpoint_auth_methods_supported).toContain('tls_client_auth');
    // It only ever sends `code` / `code id_token`, and fails when neither is listed.
    expect(resolveResponseTypes(discovery.response_types_supported)?.length).toBeGreaterThan(0);
  });

  it('DCR-002: two registrations with the same static SSA both get 201 with a client_id', async () => {
    const clientIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const claims = conformanceClaims();
      expect(claims.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
      const { res } = await post(await tpp.sign(claims));
      expect(res.status).toBe(201);
      const body = JSON.parse(res.text) as Record<string, unknown>;
      expect(typeof body.client_id).toBe('string');
      expect(String(body.client_id).length).toBeGreaterThanOrEqual(1);
      expect(String(body.client_id).length).toBeLessThanOrEqual(36);
      expect(body.token_endpoint_auth_method).toBe('tls_client_auth');
      expect(body.tls_client_auth_subject_dn).toBe(claims.tls_client_auth_subject_dn);
      expect(body.software_statement).toBe(staticSsa);
      const stored = await pipeline.rt.adapters.store.getClient(String(body.client_id));
      expect(stored?.status).toBe('active');
      expect(stored?.softwareId).toBe(tpp.credentials.softwareId);
      clientIds.push(String(body.client_id));
    }
    expect(new Set(clientIds).size).toBe(2);
  });

  describe('DCR-004: invalid registration requests fail with 400', () => {
    it('(a) exp = iat - 1h', async () => {
      const iat = Math.floor(Date.now() / 1000);
      expectBadRequest(await post(await tpp.sign(conformanceClaims({ iat, exp: iat - 3600 }))), 'invalid_client_metadata', /exp/);
    });

    it.each([
      ['(b)', 'foo.is/invalid'],
      ['(c)', ''],
      ['(d)', '123456789012345678901234567890'],
    ])('%s iss = %j', async (_case, iss) => {
      expectBadRequest(await post(await tpp.sign(conformanceClaims({ iss }))), 'invalid_client_metadata', /iss/);
    });

    it('(e) signed with RS256, id_token_signed_response_alg and token_endpoint_auth_signing_alg RS256', async () => {
      const claims = conformanceClaims({ id_token_signed_response_alg: 'RS256', token_endpoint_auth_signing_alg: 'RS256' });
      const signingInput = [
        Buffer.from(JSON.stringify({ alg: 'RS256', kid: tpp.credentials.kid, typ: 'JWT' })).toString('base64url'),
        Buffer.from(JSON.stringify(claims)).toString('base64url'),
      ].join('.');
      const key = createPrivateKey({ key: tpp.credentials.signingJwk as JsonWebKey, format: 'jwk' });
      const signature = cryptoSign('sha256', Buffer.from(signingInput), { key, padding: constants.RSA_PKCS1_PADDING }).toString('base64url');
      expectBadRequest(await post(`${signingInput}.${signature}`), 'invalid_client_metadata', /RS256/);
    });
  });

  it("DCR-011: response_types ['id_token', 'token'] fails with 400 and a JSON body", async () => {
    expectBadRequest(await post(await tpp.sign(conformanceClaims({ response_types: ['id_token', 'token'] }))), 'invalid_client_metadata', /response_types/);
  });

  it('the same static SSA still registers after the failures (no SSA jti replay in OBIE profiles)', async () => {
    const { res } = await post(await tpp.sign(conformanceClaims()));
    expect(res.status).toBe(201);
  });
});
