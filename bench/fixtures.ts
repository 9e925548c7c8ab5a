/**
 * Pre-built registrations: many sandbox TPPs, and for each registration a freshly signed request JWT
 * (new `jti`), built before any timed phase. The same TPPs give the bound its keys and the peer its
 * JSON metadata.
 */
import type { JWK } from 'jose';
import { sandboxCredentials, type SandboxDirectory, type SandboxTpp } from '../sandbox/directory-sandbox/index.js';
import { defaultRegistrationClaims, signRegistrationRequest, type TppCredentials } from '../sandbox/tpp-client/registration-request.js';
import type { LoadIdentity, PreparedRequest } from './load-generator.js';
import type { BoundKeys } from './bound-server.js';
import { peerMetadata } from './peer-oidc-provider.js';

export interface BenchTpps {
  tpps: SandboxTpp[];
  credentials: TppCredentials[];
  identities: LoadIdentity[];
  audience: string;
}

export async function createTpps(directory: SandboxDirectory, count: number, audience: string, prefix = 'bench'): Promise<BenchTpps> {
  const tpps: SandboxTpp[] = [];
  for (let i = 0; i < count; i++) tpps.push(await directory.createTpp(`${prefix}${i}x${Date.now().toString(36)}`));
  const credentials = tpps.map(sandboxCredentials);
  const identities = tpps.map((t) => ({ certPem: t.transportCertPem, keyPem: t.transportKeyPem, caPem: directory.caCertPem }));
  return { tpps, credentials, identities, audience };
}

/** `count` signed registration requests, round-robin over the TPPs, each with a fresh jti. */
export async function signedRequests(b: BenchTpps, count: number): Promise<PreparedRequest[]> {
  const out: PreparedRequest[] = [];
  for (let i = 0; i < count; i++) {
    const identity = i % b.credentials.length;
    const c = b.credentials[identity] as TppCredentials;
    const claims = defaultRegistrationClaims(c, b.audience);
    // Long runs use a request a few minutes after signing it: keep it valid (DCR_MAX_REQUEST_LIFETIME_SECONDS is 3600).
    claims.exp = (claims.iat as number) + 3000;
    out.push({ identity, body: await signRegistrationRequest(c, claims), contentType: 'application/jwt' });
  }
  return out;
}

function publicJwk(jwk: JWK): Record<string, unknown> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}

/** The same metadata as JSON for the peer (no SSA: it cannot verify one). */
export function peerRequests(b: BenchTpps, count: number): PreparedRequest[] {
  const out: PreparedRequest[] = [];
  for (let i = 0; i < count; i++) {
    const identity = i % b.credentials.length;
    const c = b.credentials[identity] as TppCredentials;
    out.push({ identity, body: peerMetadata(defaultRegistrationClaims(c, b.audience), publicJwk(c.signingJwk)), contentType: 'application/json' });
  }
  return out;
}

export async function boundKeys(directory: SandboxDirectory, b: BenchTpps): Promise<BoundKeys> {
  const software: JWK[] = [];
  for (const t of b.tpps) {
    const set = await directory.softwareJwks(t.orgId, t.softwareId);
    for (const k of set?.keys ?? []) if ((k as JWK).use !== 'tls') software.push(k as JWK);
  }
  return { directory: (await directory.directoryJwks()).keys as JWK[], software };
}
