/**
 * SPEC §10.1 over HTTP: every JOSE attack on the request JWT and the SSA is refused with a 400 and
 * the right code, and no client comes of it. Attacks the intake can see from the body's shape are
 * refused there without recording anything (SPEC §4 step 5); the others are recorded and end
 * `rejected` in the verifier, never provisioned.
 */
import { constants, createHmac, createPrivateKey, createPublicKey, sign as cryptoSign, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CompactEncrypt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../core/domain/registration.js';
import type { HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const b64u = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');
const segment = (value: unknown) => b64u(JSON.stringify(value));

function decodeSegment(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function privateKeyOf(jwk: JWK): KeyObject {
  return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** Signs `signingInput` the way a JWS with `alg` would, with a Node key: the raw base64url signature. */
function rawSignature(alg: 'PS256' | 'RS256' | 'ES256', key: KeyObject, signingInput: string): string {
  const data = Buffer.from(signingInput);
  if (alg === 'PS256') return b64u(cryptoSign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  if (alg === 'ES256') return b64u(cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
  return b64u(cryptoSign('sha256', data, key));
}

/** A compact JWS from header and payload *texts* (so duplicates and odd encodings survive), signed with `key`. */
function craft(headerText: string, payloadText: string, alg: 'PS256' | 'RS256' | 'ES256', key: KeyObject): string {
  const signingInput = `${b64u(headerText)}.${b64u(payloadText)}`;
  return `${signingInput}.${rawSignature(alg, key, signingInput)}`;
}

describe('JOSE attacks over HTTP (SPEC §10.1), embedded adapters', () => {
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let ecTpp: TestTpp;
  let tppKey: KeyObject;
  let attackerKey: CryptoKey;
  let attackerPublicJwk: JWK;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    tpp = await pipeline.createTpp('victim');
    ecTpp = await pipeline.createTpp('ecvictim', { signingAlg: 'ES256' });
    tppKey = privateKeyOf(tpp.credentials.signingJwk);
    const attacker = await generateKeyPair('PS256', { extractable: true });
    attackerKey = attacker.privateKey;
    attackerPublicJwk = await exportJWK(attacker.publicKey);
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  async function registrationIds(): Promise<Set<string>> {
    return new Set((await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 })).map((r) => r.id));
  }

  /** Posts `body` and returns the answer with the registrations it recorded. */
  async function attempt(body: string, headers: Record<string, string> = {}, by: TestTpp = tpp): Promise<{ res: HttpResponse; recorded: Registration[] }> {
    const before = await registrationIds();
    const res = await by.post(body, headers);
    const recorded = (await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 })).filter((r) => !before.has(r.id));
    return { res, recorded };
  }

  /** 400 with `code`, and no client: refused at intake (nothing recorded) or rejected in the verifier. */
  function expectRefused(outcome: { res: HttpResponse; recorded: Registration[] }, code: string, where: 'intake' | 'verifier', description?: RegExp) {
    const { res, recorded } = outcome;
    expect(res.status).toBe(400);
    const body = res.json();
    expect(body.error).toBe(code);
    expect(typeof body.error_description).toBe('string');
    if (description) expect(String(body.error_description)).toMatch(description);
    if (where === 'intake') {
      expect(recorded).toEqual([]);
    } else {
      expect(recorded).toHaveLength(1);
      expect(recorded[0]?.status).toBe('rejected');
      expect(recorded[0]?.outcome?.error).toBe(code);
      expect(recorded[0]?.clientId ?? null).toBeNull();
      expect(recorded[0]?.verified ?? null).toBeNull();
    }
  }

  const header = (extra: Record<string, unknown> = {}) => ({ alg: 'PS256', kid: tpp.credentials.kid, typ: 'JWT', ...extra });

  describe('request JWT', () => {
    it('alg none (unsigned): 400 invalid_client_metadata', async () => {
      const body = `${segment(header({ alg: 'none' }))}.${segment(tpp.claims())}.`;
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake');
      // Even with something in the signature slot.
      const withSig = `${segment(header({ alg: 'none' }))}.${segment(tpp.claims())}.${b64u('x')}`;
      expectRefused(await attempt(withSig), 'invalid_client_metadata', 'intake', /none/);
    });

    it('HS256 signed with the RSA public key bytes (key confusion): 400 invalid_client_metadata', async () => {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = tpp.credentials.signingJwk;
      const publicPem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [publicPem, JSON.stringify(publicJwk)]) {
        const signingInput = `${segment(header({ alg: 'HS256' }))}.${segment(tpp.claims())}`;
        const body = `${signingInput}.${b64u(createHmac('sha256', secret).update(signingInput).digest())}`;
        expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /HS256/);
      }
    });

    it('RS256 (PKCS#1 v1.5, conformance DCR-004e) with the genuine key: 400 invalid_client_metadata', async () => {
      const body = craft(JSON.stringify(header({ alg: 'RS256' })), JSON.stringify(tpp.claims()), 'RS256', tppKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /RS256/);
    });

    it('jwk header carrying an attacker key, signed by it: 400 invalid_client_metadata', async () => {
      const body = await new SignJWT(tpp.claims()).setProtectedHeader({ ...header(), jwk: attackerPublicJwk }).sign(attackerKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /jwk/);
    });

    it.each([
      ['jku', 'https://attacker.example/jwks.json'],
      ['x5u', 'https://attacker.example/cert.pem'],
    ])('%s header pointing at attacker keys: 400 invalid_client_metadata', async (name, url) => {
      const body = await new SignJWT(tpp.claims()).setProtectedHeader({ ...header(), [name]: url }).sign(attackerKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', new RegExp(name));
    });

    it('x5c header (even a CA-issued certificate): 400 invalid_client_metadata', async () => {
      const der = new X509Certificate(tpp.identity.certPem ?? '').raw.toString('base64');
      const body = await new SignJWT(tpp.claims()).setProtectedHeader({ ...header(), x5c: [der] }).sign(attackerKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /x5c/);
    });

    it('crit header: 400 invalid_client_metadata', async () => {
      const body = craft(JSON.stringify(header({ crit: ['exp'] })), JSON.stringify(tpp.claims()), 'PS256', tppKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /crit/);
    });

    it('b64:false (RFC 7797 unencoded payload), with and without crit: 400 invalid_client_metadata', async () => {
      const withCrit = craft(JSON.stringify(header({ b64: false, crit: ['b64'] })), JSON.stringify(tpp.claims()), 'PS256', tppKey);
      expectRefused(await attempt(withCrit), 'invalid_client_metadata', 'intake');
      const bare = craft(JSON.stringify(header({ b64: false })), JSON.stringify(tpp.claims()), 'PS256', tppKey);
      expectRefused(await attempt(bare), 'invalid_client_metadata', 'intake', /b64/);
    });

    it('duplicate member names in the header: 400 invalid_client_metadata', async () => {
      const headerText = `{"alg":"PS256","kid":${JSON.stringify(tpp.credentials.kid)},"typ":"JWT","kid":"attacker"}`;
      const body = craft(headerText, JSON.stringify(tpp.claims()), 'PS256', tppKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /duplicate/);
    });

    it('duplicate member names in the payload (validly signed): 400 invalid_client_metadata', async () => {
      const claimsText = JSON.stringify(tpp.claims());
      const payloadText = `${claimsText.slice(0, -1)},"aud":"https://other-bank.example"}`;
      const body = craft(JSON.stringify(header()), payloadText, 'PS256', tppKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /duplicate/);
    });

    it('non-canonical base64url: padding, + and /, and set unused bits: 400 invalid_client_metadata', async () => {
      const valid = await tpp.sign(tpp.claims());
      const [h, p, s] = valid.split('.') as [string, string, string];

      // Padding on the header (and on the signature).
      const padding = '='.repeat((4 - (h.length % 4)) % 4 || 1);
      expectRefused(await attempt(`${h}${padding}.${p}.${s}`), 'invalid_client_metadata', 'intake', /canonical/);
      expectRefused(await attempt(`${h}.${p}.${s}==`), 'invalid_client_metadata', 'intake');

      // The standard alphabet (+ and /) in the signature of a genuinely signed token.
      let jws = valid;
      while (!/[-_]/.test(jws.split('.')[2] ?? '')) jws = await tpp.sign(tpp.claims());
      const [h2, p2, s2] = jws.split('.') as [string, string, string];
      expectRefused(await attempt(`${h2}.${p2}.${s2.replace(/-/g, '+').replace(/_/g, '/')}`), 'invalid_client_metadata', 'intake');

      // Unused trailing bits set in the last character: the same bytes, a different string
      // (a signature malleability the server must not accept; 256-byte PS256 signatures leave 4 bits).
      const fresh = await tpp.sign(tpp.claims());
      const [h3, p3, s3] = fresh.split('.') as [string, string, string];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(s3.slice(-1));
      const tweaked = `${s3.slice(0, -1)}${alphabet[last ^ 1]}`;
      expect(Buffer.from(tweaked, 'base64url').equals(Buffer.from(s3, 'base64url'))).toBe(true);
      const outcome = await attempt(`${h3}.${p3}.${tweaked}`);
      expect(outcome.res.status).toBe(400);
      expect(outcome.res.json().error).toBe('invalid_client_metadata');
      expect(String(outcome.res.json().error_description)).toMatch(/canonical/);
      expect(outcome.recorded.every((r) => r.status === 'rejected' && !r.clientId)).toBe(true);
    });

    it('JWS JSON serialisation (flattened and general): 400 invalid_client_metadata', async () => {
      const [h, p, s] = (await tpp.sign(tpp.claims())).split('.') as [string, string, string];
      for (const body of [{ protected: h, payload: p, signature: s }, { payload: p, signatures: [{ protected: h, signature: s }] }]) {
        expectRefused(await attempt(JSON.stringify(body), { 'content-type': 'application/jose' }), 'invalid_client_metadata', 'intake', /JSON serialisation/);
      }
    });

    it('a JWE (five parts, nested signed JWT): 400 invalid_client_metadata', async () => {
      const { publicKey } = await generateKeyPair('RSA-OAEP-256');
      const jwe = await new CompactEncrypt(new TextEncoder().encode(await tpp.sign(tpp.claims())))
        .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: tpp.credentials.kid })
        .encrypt(publicKey);
      expect(jwe.split('.')).toHaveLength(5);
      expectRefused(await attempt(jwe), 'invalid_client_metadata', 'intake', /JWE/);
    });

    it('an oversized body (> 64 KiB): 413 invalid_request, nothing recorded', async () => {
      const body = await tpp.sign(tpp.claims({ client_name: 'x'.repeat(70 * 1024) }));
      expect(body.length).toBeGreaterThan(64 * 1024);
      const { res, recorded } = await attempt(body);
      expect(res.status).toBe(413);
      expect(res.json().error).toBe('invalid_request');
      expect(recorded).toEqual([]);
    });

    it('a kid longer than 256 characters: 400 invalid_client_metadata', async () => {
      const body = craft(JSON.stringify(header({ kid: 'k'.repeat(257) })), JSON.stringify(tpp.claims()), 'PS256', tppKey);
      expectRefused(await attempt(body), 'invalid_client_metadata', 'intake', /kid/);
    });

    it('ES256 all-zero signature (psychic signature, CVE-2022-21449): 400 invalid_client_metadata', async () => {
      const signingInput = `${segment({ alg: 'ES256', kid: ecTpp.credentials.kid, typ: 'JWT' })}.${segment(ecTpp.claims())}`;
      const body = `${signingInput}.${b64u(new Uint8Array(64))}`;
      expectRefused(await attempt(body, {}, ecTpp), 'invalid_client_metadata', 'verifier', /signature/);
      // The same TPP's genuine signature goes through: the refusal is the signature's.
      const genuine = await ecTpp.post(await ecTpp.sign(ecTpp.claims()));
      expect(genuine.status).toBe(201);
    });

    it.each([
      ['iat', (now: number) => ({ iat: String(now) })],
      ['exp', (now: number) => ({ exp: String(now + 300) })],
    ])('%s as a string (validly signed): 400 invalid_client_metadata', async (name, override) => {
      const now = Math.floor(Date.now() / 1000);
      const body = await tpp.sign(tpp.claims(override(now)));
      expectRefused(await attempt(body), 'invalid_client_metadata', 'verifier', new RegExp(name));
    });
  });

  describe('software statement (request validly signed by the TPP)', () => {
    const ssaParts = () => tpp.credentials.ssa.split('.') as [string, string, string];

    it('SSA with alg none: 400 invalid_software_statement', async () => {
      const [h, p] = ssaParts();
      const unsigned = `${segment({ ...decodeSegment(h), alg: 'none' })}.${p}.`;
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: unsigned }))), 'invalid_software_statement', 'verifier');
    });

    it('SSA HS256-signed with the directory public key: 400 invalid_software_statement', async () => {
      const [h, p] = ssaParts();
      const signingInput = `${segment({ ...decodeSegment(h), alg: 'HS256' })}.${p}`;
      const directoryJwks = JSON.stringify({ keys: await pipeline.rt.keys.keySet(pipeline.rt.trust.directoryJwksUrl) });
      const forged = `${signingInput}.${b64u(createHmac('sha256', directoryJwks).update(signingInput).digest())}`;
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: forged }))), 'invalid_software_statement', 'verifier', /HS256/);
    });

    it("SSA signed by a key not in the directory JWKS (the directory's kid): 400 invalid_software_statement", async () => {
      const [h, p] = ssaParts();
      const forged = await new SignJWT(decodeSegment(p)).setProtectedHeader({ alg: 'PS256', kid: String(decodeSegment(h).kid), typ: 'JWT' }).sign(attackerKey);
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: forged }))), 'invalid_software_statement', 'verifier', /signature/);
    });

    it('SSA whose kid is unknown to the directory: 400 invalid_software_statement', async () => {
      const [, p] = ssaParts();
      const forged = await new SignJWT(decodeSegment(p)).setProtectedHeader({ alg: 'PS256', kid: 'attacker-key-1', typ: 'JWT' }).sign(attackerKey);
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: forged }))), 'invalid_software_statement', 'verifier', /kid/);
    });

    it("SSA signature re-encoded with the last character's unused bits set: 400 invalid_software_statement", async () => {
      const [h, p, s] = ssaParts();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const tweaked = `${s.slice(0, -1)}${alphabet[alphabet.indexOf(s.slice(-1)) ^ 1]}`;
      expect(Buffer.from(tweaked, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
      const malleated = `${h}.${p}.${tweaked}`;
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: malleated }))), 'invalid_software_statement', 'verifier', /canonical/);
    });

    it('SSA with a jwk header carrying the signing key: 400 invalid_software_statement', async () => {
      const [h, p] = ssaParts();
      const forged = await new SignJWT(decodeSegment(p))
        .setProtectedHeader({ alg: 'PS256', kid: String(decodeSegment(h).kid), typ: 'JWT', jwk: attackerPublicJwk })
        .sign(attackerKey);
      expectRefused(await attempt(await tpp.sign(tpp.claims({ software_statement: forged }))), 'invalid_software_statement', 'verifier', /jwk/);
    });
  });

  it('the genuine request of the same TPP is registered (the refusals above are the attacks)', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    expect((await pipeline.rt.adapters.store.getClient(String(res.json().client_id)))?.status).toBe('active');
  });
});
