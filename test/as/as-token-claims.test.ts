/**
 * Issue 17 finding 6 and finding 1 (AS access tokens on the management endpoints): `aud` must name
 * this service (RFC 9068 §4), a `cnf` without `x5t#S256` is bound and unmatched (RFC 8705 §3,
 * RFC 9449 §6), opaque tokens are introspected through the outbound fetcher with a bounded cache,
 * and a JWT-shaped token with an unknown key costs one short debug line, no stack.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { getProfile } from '../../core/profiles/index.js';
import { KeyNotFound } from '../../platform/jose/key-resolver.js';
import type { Logger } from '../../platform/runtime/logger.js';
import type { OutboundRequest, OutboundResponse } from '../../platform/http/outbound-fetcher.js';
import { createAsTokenVerifier, type AsTokenVerifier } from '../../services/intake/as-tokens.js';

const ISSUER = 'https://as.bank.example';
const PUBLIC_URL = 'https://dcr.bank.example';
const base = { DCR_DATA_DIR: '/tmp/dcr-as-claims', DCR_SANDBOX: '1', DCR_PUBLIC_URL: PUBLIC_URL, DCR_AS_ISSUER: ISSUER };
const THUMBPRINT = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

async function jwtVerifier(env: Record<string, string> = {}): Promise<{ verifier: AsTokenVerifier; sign: (claims: JWTPayload, kid?: string) => Promise<string>; logs: LogLine[] }> {
  const { publicKey, privateKey } = await generateKeyPair('PS256');
  const jwk = await exportJWK(publicKey);
  const config = loadConfig({ ...base, DCR_AS_JWKS_URL: `${ISSUER}/jwks`, ...env });
  const logs: LogLine[] = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => {
    logs.push({ level, fields, message });
  };
  const verifier = createAsTokenVerifier({
    config,
    profile: getProfile('obie-3.3'),
    keys: {
      resolve: async (_url: string, kid: string) => {
        if (kid !== 'as-1') throw new KeyNotFound(`no signing key with kid '${kid}' in the JWKS`);
        return { key: publicKey, alg: 'PS256' as const, jwk };
      },
    },
    fetcher: { request: () => Promise.reject(new Error('not used')) },
    logger: { warn: log('warn'), debug: log('debug') } as unknown as Pick<Logger, 'warn' | 'debug'>,
  });
  if (!verifier) throw new Error('no verifier');
  const sign = (claims: JWTPayload, kid = 'as-1') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'PS256', kid, typ: 'at+jwt' }).setIssuer(ISSUER).setIssuedAt().setExpirationTime('5m').sign(privateKey);
  return { verifier, sign, logs };
}

const context = { clientId: 'client-1', certificateThumbprint: THUMBPRINT };

describe('AS JWT access tokens: audience and certificate binding', () => {
  it('accepts a token for this service bound to the presented certificate', async () => {
    const { verifier, sign } = await jwtVerifier();
    expect(await verifier.verify(await sign({ aud: PUBLIC_URL, client_id: 'client-1', cnf: { 'x5t#S256': THUMBPRINT } }), context)).toEqual({ ok: true, via: 'jwt' });
    // An unbound token (no cnf at all) is a plain bearer token.
    expect(await verifier.verify(await sign({ aud: [PUBLIC_URL, 'https://other'], client_id: 'client-1' }), context)).toEqual({ ok: true, via: 'jwt' });
  });

  it('refuses a token for another audience, and one without aud (RFC 9068 §4)', async () => {
    const { verifier, sign } = await jwtVerifier();
    expect(await verifier.verify(await sign({ aud: 'https://payments.bank.example', client_id: 'client-1' }), context)).toMatchObject({ ok: false, reason: 'aud does not name this service' });
    expect(await verifier.verify(await sign({ client_id: 'client-1' }), context)).toMatchObject({ ok: false });
  });

  it('DCR_AS_TOKEN_AUDIENCE replaces the default audiences', async () => {
    const { verifier, sign } = await jwtVerifier({ DCR_AS_TOKEN_AUDIENCE: 'urn:bank:dcr' });
    expect(await verifier.verify(await sign({ aud: 'urn:bank:dcr', client_id: 'client-1' }), context)).toEqual({ ok: true, via: 'jwt' });
    expect(await verifier.verify(await sign({ aud: PUBLIC_URL, client_id: 'client-1' }), context)).toMatchObject({ ok: false, reason: 'aud does not name this service' });
  });

  it.each([
    ['an empty cnf', {}],
    ['a DPoP-bound cnf (jkt)', { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }],
    ['another certificate', { 'x5t#S256': 'A'.repeat(43) }],
  ])('refuses a token bound to %s', async (_what, cnf) => {
    const { verifier, sign } = await jwtVerifier();
    const verdict = await verifier.verify(await sign({ aud: PUBLIC_URL, client_id: 'client-1', cnf }), context);
    expect(verdict.ok).toBe(false);
  });

  it('a JWT-shaped token with an unknown key: refused with one short debug line, no warning, no stack', async () => {
    const { verifier, sign, logs } = await jwtVerifier();
    for (let i = 0; i < 20; i++) {
      expect(await verifier.verify(await sign({ aud: PUBLIC_URL, client_id: 'client-1' }, `guess-${i}`), context)).toEqual({ ok: false, reason: 'signing key not found' });
    }
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect(logs).toHaveLength(20);
    for (const line of logs) {
      expect(line.level).toBe('debug');
      expect(line.fields.err).toBeUndefined();
      expect(JSON.stringify(line).length).toBeLessThan(400);
      expect(JSON.stringify(line)).not.toMatch(/\n\s+at /);
    }
  });
});

describe('AS opaque tokens: RFC 7662 introspection through the outbound fetcher, cached', () => {
  function introspectionVerifier(answer: (token: string) => Record<string, unknown>) {
    const config = loadConfig({ ...base, DCR_AS_INTROSPECTION_URL: `${ISSUER}/introspect`, DCR_AS_INTROSPECTION_CLIENT_ID: 'dcr', DCR_AS_INTROSPECTION_CLIENT_SECRET: 's3cret' });
    const sent: Array<{ url: string; init: OutboundRequest }> = [];
    const verifier = createAsTokenVerifier({
      config,
      profile: getProfile('obie-3.3'),
      keys: { resolve: () => Promise.reject(new Error('not used')) },
      fetcher: {
        request: async (url: string, init: OutboundRequest): Promise<OutboundResponse> => {
          sent.push({ url, init });
          const token = new URLSearchParams(String(init.body)).get('token') ?? '';
          return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(answer(token))) };
        },
      },
    });
    if (!verifier) throw new Error('no verifier');
    return { verifier, sent };
  }

  it('asks once per token: repeated bad tokens and repeated good tokens are answered from the cache', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const { verifier, sent } = introspectionVerifier((token) => (token === 'good' ? { active: true, client_id: 'client-1', exp, aud: PUBLIC_URL } : { active: false }));
    for (let i = 0; i < 10; i++) expect(await verifier.verify('bad', context)).toEqual({ ok: false, reason: 'inactive token' });
    for (let i = 0; i < 10; i++) expect(await verifier.verify('good', context)).toEqual({ ok: true, via: 'introspection' });
    // The cached answer is still checked against each call's client.
    expect(await verifier.verify('good', { ...context, clientId: 'client-2' })).toMatchObject({ ok: false, reason: 'client_id does not match the path' });
    expect(sent.map((s) => s.url)).toEqual([`${ISSUER}/introspect`, `${ISSUER}/introspect`]);
    expect(sent[0]?.init).toMatchObject({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('dcr:s3cret').toString('base64')}` } });
  });

  it('an introspection answer naming another audience, or a cnf without x5t#S256, is refused', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const { verifier } = introspectionVerifier((token) => (token === 'aud' ? { active: true, client_id: 'client-1', exp, aud: 'https://elsewhere' } : { active: true, client_id: 'client-1', exp, cnf: { jkt: 'x' } }));
    expect(await verifier.verify('aud', context)).toMatchObject({ ok: false, reason: 'aud does not name this service' });
    expect(await verifier.verify('dpop', context)).toMatchObject({ ok: false });
  });
});
