/** JWK builders: signing keys (RFC 7638 kid) and certificate keys with x5c / x5t / x5t#S256. */
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';
import { subtle, toBase64, toBase64Url, x509 } from './webcrypto.js';
import type { CryptoKey } from './webcrypto.js';

export type SigningAlg = 'PS256' | 'ES256';

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;
const PRIVATE_MEMBERS = [...PUBLIC_MEMBERS, 'd', 'p', 'q', 'dp', 'dq', 'qi'] as const;

function pick(jwk: JWK, members: readonly string[]): JWK {
  const out: Record<string, unknown> = {};
  for (const m of members) {
    const v = (jwk as Record<string, unknown>)[m];
    if (v !== undefined) out[m] = v;
  }
  return out as JWK;
}

/** Public members only (drops `d`, primes, `ext`, `key_ops`, …). */
export function publicJwk(jwk: JWK): JWK {
  return pick(jwk, PUBLIC_MEMBERS);
}

/** RFC 7638 SHA-256 thumbprint of the public key. */
export async function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(publicJwk(jwk), 'sha256');
}

/** A signing key pair's private JWK and public JWK, both carrying `kid`, `alg`, `use: 'sig'`. */
export async function signingJwks(privateKey: CryptoKey, alg: SigningAlg): Promise<{ privateJwk: JWK; publicJwk: JWK; kid: string }> {
  const exported = (await subtle.exportKey('jwk', privateKey)) as JWK;
  const kid = await jwkThumbprint(exported);
  const meta = { kid, use: 'sig', alg };
  return {
    kid,
    privateJwk: { ...pick(exported, PRIVATE_MEMBERS), ...meta },
    publicJwk: { ...publicJwk(exported), ...meta },
  };
}

async function certPublicJwk(cert: x509.X509Certificate): Promise<JWK> {
  const isEc = cert.publicKey.algorithm.name === 'ECDSA';
  const alg = isEc ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key = await cert.publicKey.export(alg, ['verify']);
  return publicJwk((await subtle.exportKey('jwk', key as CryptoKey)) as JWK);
}

export interface CertificateJwkOptions {
  use: 'tls' | 'sig';
  alg?: SigningAlg;
  /** Defaults to the RFC 7638 thumbprint of the key. */
  kid?: string;
  /** Certificates after the leaf in `x5c` (e.g. the CA). */
  chain?: x509.X509Certificate[];
}

/** The certificate's public key as a JWK with `x5c`, `x5t` (SHA-1) and `x5t#S256`. */
export async function certificateJwk(cert: x509.X509Certificate, opts: CertificateJwkOptions): Promise<JWK> {
  const jwk = await certPublicJwk(cert);
  const [sha1, sha256] = await Promise.all([cert.getThumbprint('SHA-1'), cert.getThumbprint('SHA-256')]);
  return {
    ...jwk,
    kid: opts.kid ?? (await jwkThumbprint(jwk)),
    use: opts.use,
    ...(opts.alg ? { alg: opts.alg } : {}),
    x5c: [cert, ...(opts.chain ?? [])].map((c) => toBase64(c.rawData)),
    x5t: toBase64Url(sha1),
    'x5t#S256': toBase64Url(sha256),
  };
}

/** The `x5t` (base64url SHA-1 of the DER) of a certificate. */
export async function certificateSha1Thumbprint(cert: x509.X509Certificate): Promise<string> {
  return toBase64Url(await cert.getThumbprint('SHA-1'));
}
