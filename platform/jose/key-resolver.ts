import { importJWK, type CryptoKey, type JWK } from 'jose';
import { FetchFailed, FetchRefused, type OutboundFetcher } from '../http/outbound-fetcher.js';
import { DcrError } from '../../core/errors/dcr-error.js';

/** The verification algorithm a key may be used with, chosen by its type, never by the header. */
export function algorithmForKey(jwk: JWK): 'PS256' | 'ES256' | 'EdDSA' | null {
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string') {
    const bits = Buffer.from(jwk.n, 'base64url').length * 8;
    return bits >= 2048 ? 'PS256' : null;
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return null;
}

export class KeyNotFound extends DcrError {
  readonly code = 'ERR_KEY_NOT_FOUND';
}

export interface ResolvedKey {
  key: CryptoKey | Uint8Array;
  alg: 'PS256' | 'ES256' | 'EdDSA';
  jwk: JWK;
}

interface CachedSet {
  keys: JWK[];
  expiresAt: number;
  refetchedAt: number;
  imported: Map<string, ResolvedKey>;
  /** The server's validator for this set (absent under `no-store`): the next load is conditional. */
  etag: string | null;
}

export interface KeyResolverOptions {
  /** Cap on how long a JWKS is trusted without refetching (SPEC §9.2: 5 min). */
  maxAgeSeconds: number;
  maxKeys?: number;
  /** At most one refetch per URL in this interval when a `kid` is unknown. */
  refetchIntervalMs?: number;
}

/**
 * Finds verification keys by `kid` in a JWKS at an (allow-listed) URL. Keys are imported once and
 * cached; a JWKS is cached per its Cache-Control, capped; an unknown `kid` triggers one
 * rate-limited refetch (key rotation) before failing. A refetch is conditional when the server
 * gave an `ETag` (If-None-Match; RFC 9111 §4.3.1): on 304 the set and its imported keys are kept.
 */
export class KeyResolver {
  readonly #fetcher: OutboundFetcher;
  readonly #options: Required<KeyResolverOptions>;
  readonly #sets = new Map<string, CachedSet>();
  readonly #inflight = new Map<string, Promise<CachedSet>>();

  constructor(fetcher: OutboundFetcher, options: KeyResolverOptions) {
    this.#fetcher = fetcher;
    this.#options = { maxKeys: 100, refetchIntervalMs: 10_000, ...options };
  }

  async #load(url: string): Promise<CachedSet> {
    let pending = this.#inflight.get(url);
    if (!pending) {
      pending = (async () => {
        // Revalidated when the server gave a validator (`ETag`; `no-cache` sets expire at once and
        // are revalidated on each use): a 304 keeps the keys and their imported forms.
        const previous = this.#sets.get(url);
        const answer = await this.#fetcher.fetchJsonConditional(url, previous?.etag ?? undefined);
        const ttl = Math.min(answer.maxAge ?? this.#options.maxAgeSeconds, this.#options.maxAgeSeconds);
        if (answer.notModified && previous) {
          const set: CachedSet = { ...previous, expiresAt: Date.now() + ttl * 1000, refetchedAt: Date.now(), etag: answer.etag };
          this.#sets.set(url, set);
          return set;
        }
        if (answer.notModified) throw new FetchFailed(`${url}: 304 without a cached copy`);
        const keys = (answer.json as { keys?: unknown }).keys;
        if (!Array.isArray(keys)) throw new FetchFailed(`${url}: not a JWK Set`);
        if (keys.length > this.#options.maxKeys) throw new FetchFailed(`${url}: more than ${this.#options.maxKeys} keys`);
        const set: CachedSet = {
          keys: keys.filter((k): k is JWK => typeof k === 'object' && k !== null),
          expiresAt: Date.now() + ttl * 1000,
          refetchedAt: Date.now(),
          imported: new Map(),
          etag: answer.etag,
        };
        this.#sets.set(url, set);
        return set;
      })().finally(() => this.#inflight.delete(url));
      this.#inflight.set(url, pending);
    }
    return pending;
  }

  /** The JWKS at `url` (cached). Throws FetchRefused / FetchFailed. */
  async keySet(url: string): Promise<JWK[]> {
    const cached = this.#sets.get(url);
    if (cached && cached.expiresAt > Date.now()) return cached.keys;
    return (await this.#load(url)).keys;
  }

  /**
   * The key with `kid` usable for signatures (`use` absent or `sig`), imported for its algorithm.
   * Throws {@link KeyNotFound} when the JWKS has no such key; FetchRefused / FetchFailed otherwise.
   */
  async resolve(url: string, kid: string): Promise<ResolvedKey> {
    let set = this.#sets.get(url);
    if (!set || set.expiresAt <= Date.now()) set = await this.#load(url);
    let found = set.imported.get(kid);
    if (found) return found;
    let jwk = set.keys.find((k) => k.kid === kid && (k.use === undefined || k.use === 'sig'));
    if (!jwk && Date.now() - set.refetchedAt >= this.#options.refetchIntervalMs) {
      set = await this.#load(url);
      jwk = set.keys.find((k) => k.kid === kid && (k.use === undefined || k.use === 'sig'));
    }
    if (!jwk) throw new KeyNotFound(`no signing key with kid '${kid.slice(0, 64)}' in the JWKS`);
    const alg = algorithmForKey(jwk);
    if (!alg) throw new KeyNotFound(`key '${kid.slice(0, 64)}' is of a type or size that is not accepted`);
    if (jwk.alg !== undefined && jwk.alg !== alg) throw new KeyNotFound(`key '${kid.slice(0, 64)}' declares alg '${jwk.alg}', expected ${alg}`);
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, oth: _oth, ...publicJwk } = jwk as JWK & { oth?: unknown };
    found = { key: await importJWK(publicJwk, alg), alg, jwk: publicJwk };
    set.imported.set(kid, found);
    return found;
  }
}

export { FetchFailed, FetchRefused };
