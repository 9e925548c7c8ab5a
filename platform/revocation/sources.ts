import { createHash } from 'node:crypto';
import type { CacheEntry, RevocationCache } from '../../core/ports/revocation-cache.js';
import { mergeUnavailable, SourceUnavailable, type DirectoryDocuments, type Sourced } from '../../core/revocation/check.js';
import { FetchFailed, FetchRefused, type OutboundFetcher } from '../http/outbound-fetcher.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import {
  checkCrlCurrent,
  checkOcspCurrent,
  EvidenceUnusable,
  ocspGetUrl,
  ocspRequestDer,
  verifyCrlSignature,
  verifyOcspResponse,
  type OcspVerdict,
  type ParsedCertificate,
  type VerifiedCrl,
} from '../pki/revocation-evidence.js';

export interface SourcesOptions {
  fetcher: OutboundFetcher;
  cache: RevocationCache;
  /** Cap on every cache lifetime (`config.fetch.cacheMaxAgeSeconds`). */
  maxAgeSeconds: number;
  /** Clock leeway for thisUpdate / nextUpdate. */
  leewaySeconds: number;
  clock: () => Date;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What one GET of a source gave: a body, or a 304 confirming the held copy. */
interface Fetched {
  notModified: boolean;
  body: Buffer;
  maxAge: number | null;
  etag: string | null;
  noStore: boolean;
}

/**
 * The directory's answers, fetched through the outbound fetcher (allow-list, limits) and cached in
 * the shared cache: JSON (JWKS, status lists) per Cache-Control, CRLs until nextUpdate, OCSP
 * responses until their nextUpdate, all capped by the configured max age. A cache entry never
 * stands in for a signature: signed evidence (CRL, OCSP) read from the cache is verified again,
 * unless this process has verified those very bytes for the same certificates before (an
 * in-process memo keyed by the exact cached body, so an entry altered in a shared cache is verified
 * afresh). Freshness (thisUpdate / nextUpdate) is checked on every use.
 *
 * Revalidation (issue 21): an answer with an `ETag` (and no `no-store`) is kept with its validator
 * for one more cap past its freshness (`keepUntil`); once stale (max-age lapsed, or at once under
 * `no-cache`) it is asked for with `If-None-Match`, and a 304 keeps the cached body (so its
 * verified memo too) with a new lifetime from the 304's headers (the entry's previous lifetime if
 * the 304 states none; CRL / OCSP: until nextUpdate as for a 200). Kept bytes that fail their
 * check after a 304 (altered in the shared cache, past nextUpdate) are replaced by one
 * unconditional fetch. A `no-store` answer is never stored and leaves no validator: such a
 * document is fetched on every use.
 */
export class DirectorySources implements DirectoryDocuments {
  readonly #o: SourcesOptions;
  readonly #inflight = new Map<string, Promise<{ entry: CacheEntry; cached: boolean }>>();
  /** Parsed / verified forms of cached bodies, keyed by what they were computed for; valid for that body only. */
  readonly #derived = new BoundedMemo<string, { body: string; value: unknown }>(2048);
  readonly #ocspRequests = new BoundedMemo<string, { der: Buffer; hash: string }>(4096);

  constructor(options: SourcesOptions) {
    this.#o = options;
  }

  get #capMs(): number {
    return this.#o.maxAgeSeconds * 1000;
  }

  /**
   * Cached entry while fresh, else one fetch per key at a time (concurrent callers share it),
   * conditional when the stale entry kept a validator. `fresh` asks the directory even when the
   * entry is fresh (still conditionally: a 304 is the directory's word that the copy is current).
   * `ttlMs(body, maxAge)` is the lifetime of `body` (base64) given the answer's max-age.
   */
  async #load(
    key: string,
    fetch: (etag: string | undefined) => Promise<Fetched>,
    ttlMs: (body: string, maxAge: number | null) => Promise<number> | number,
    fresh = false,
  ): Promise<{ entry: CacheEntry; cached: boolean }> {
    const hit = await this.#o.cache.get(key);
    if (!fresh && hit && hit.expiresAt > this.#o.clock().getTime()) return { entry: hit, cached: true };
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = (async () => {
        const answer = await fetch(hit?.etag);
        if (!answer.notModified) return this.#store(key, answer.body.toString('base64'), answer.maxAge, answer.noStore ? null : answer.etag, answer.noStore, ttlMs);
        // The fetcher returns a 304 only to a conditional request, which only a held entry makes.
        if (!hit) throw new SourceUnavailable('directory_unreachable', `${key}: 304 without a cached copy`);
        const maxAge = answer.maxAge ?? Math.max(0, Math.floor((hit.expiresAt - hit.storedAt) / 1000));
        const etag = answer.noStore ? null : (answer.etag ?? hit.etag ?? null);
        try {
          return await this.#store(key, hit.body, maxAge, etag, answer.noStore, ttlMs);
        } catch {
          // The kept bytes do not pass (altered in the shared cache, or past nextUpdate): the whole document.
          const whole = await fetch(undefined);
          return this.#store(key, whole.body.toString('base64'), whole.maxAge, whole.noStore ? null : whole.etag, whole.noStore, ttlMs);
        }
      })().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /** `body` (base64) checked by `ttlMs` and cached for its lifetime, with its validator kept one cap longer. */
  async #store(
    key: string,
    body: string,
    maxAge: number | null,
    etag: string | null,
    noStore: boolean,
    ttlMs: (body: string, maxAge: number | null) => Promise<number> | number,
  ): Promise<{ entry: CacheEntry; cached: boolean }> {
    const lifetime = await ttlMs(body, maxAge);
    const now = this.#o.clock().getTime();
    const ttl = Math.max(0, Math.min(lifetime, this.#capMs));
    const entry: CacheEntry = { body, storedAt: now, expiresAt: now + ttl, ...(etag ? { etag, keepUntil: now + ttl + this.#capMs } : {}) };
    if (!noStore && (ttl > 0 || etag)) await this.#o.cache.set(key, entry);
    return { entry, cached: false };
  }

  /** `compute(body)` for this exact cached body, computed once per (key, body). */
  async #derive<T>(key: string, body: string, compute: () => T | Promise<T>): Promise<T> {
    const hit = this.#derived.get(key);
    if (hit && hit.body === body) return hit.value as T;
    const value = await compute();
    this.#derived.set(key, { body, value });
    return value;
  }

  async #fetch(url: string, accept: string, what: string, etag: string | undefined): Promise<Fetched> {
    try {
      const result = await this.#o.fetcher.fetch(url, accept, etag);
      return { notModified: result.status === 304, body: result.body, maxAge: result.maxAge, etag: result.etag, noStore: result.noStore };
    } catch (error) {
      if (error instanceof FetchRefused) throw new SourceUnavailable('fetch_refused', `${what}: refused by the outbound policy: ${error.message}`, { cause: error });
      if (error instanceof FetchFailed) throw new SourceUnavailable('directory_unreachable', `${what}: ${error.message}`, { cause: error });
      throw new SourceUnavailable('directory_unreachable', `${what}: ${describe(error)}`, { cause: error });
    }
  }

  /** A JSON document (JWKS, status list), cached per Cache-Control (capped); `fresh` asks the directory (and refreshes the cache). */
  async json(url: string, what: string, options: { fresh?: boolean } = {}): Promise<Sourced<unknown>> {
    const key = `json:${url}`;
    // Parsed once per body: shared by callers of the same body, who only read it.
    const parse = (body: string) =>
      this.#derive(key, body, () => {
        try {
          return JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as unknown;
        } catch (error) {
          throw new SourceUnavailable('directory_unreachable', `${what}: the response is not JSON`, { cause: error });
        }
      });
    const { entry, cached } = await this.#load(
      key,
      (etag) => this.#fetch(url, 'application/json', what, etag),
      async (body, maxAge) => {
        await parse(body);
        return (maxAge ?? this.#o.maxAgeSeconds) * 1000;
      },
      options.fresh === true,
    );
    return { value: await parse(entry.body), url, cached };
  }

  /**
   * The first usable CRL among the distribution points, verified against `issuer` and current.
   * Throws {@link SourceUnavailable} when none is.
   */
  async crl(urls: readonly string[], issuer: ParsedCertificate): Promise<Sourced<VerifiedCrl>> {
    const problems: SourceUnavailable[] = [];
    const leewayMs = this.#o.leewaySeconds * 1000;
    for (const url of urls) {
      try {
        const verify = (body: string) =>
          this.#derive(`crl:${url}:${issuer.node.fingerprint256}`, body, () => verifyCrlSignature(Buffer.from(body, 'base64'), issuer));
        const { entry, cached } = await this.#load(
          `crl:${url}`,
          (etag) => this.#fetch(url, 'application/pkix-crl', `CRL ${url}`, etag),
          async (body) => {
            const { crl } = await verify(body);
            checkCrlCurrent(crl, this.#o.clock(), leewayMs);
            return crl.nextUpdate ? crl.nextUpdate.getTime() - this.#o.clock().getTime() : this.#capMs;
          },
        );
        const verified = await verify(entry.body);
        checkCrlCurrent(verified.crl, this.#o.clock(), leewayMs);
        return { value: verified, url, cached };
      } catch (error) {
        problems.push(this.#unavailable(error, `CRL ${url}`));
      }
    }
    throw mergeUnavailable(problems, 'no CRL distribution point gave a usable CRL');
  }

  /**
   * The first usable OCSP answer about `cert` among its responders (RFC 6960 GET form), verified.
   * Throws {@link SourceUnavailable} when none is.
   */
  async ocsp(urls: readonly string[], cert: ParsedCertificate, issuer: ParsedCertificate): Promise<Sourced<OcspVerdict>> {
    const problems: SourceUnavailable[] = [];
    const leewayMs = this.#o.leewaySeconds * 1000;
    const pair = `${cert.node.fingerprint256}:${issuer.node.fingerprint256}`;
    const { der: request, hash: requestHash } = this.#ocspRequests.through(pair, () => {
      const der = ocspRequestDer(cert, issuer);
      return { der, hash: createHash('sha256').update(der).digest('base64url') };
    });
    for (const url of urls) {
      try {
        const verify = (body: string) =>
          this.#derive(`ocsp:${url}:${pair}`, body, () => verifyOcspResponse(Buffer.from(body, 'base64'), cert, issuer, this.#o.clock()));
        const { entry, cached } = await this.#load(
          `ocsp:${url}:${requestHash}`,
          (etag) => this.#fetch(ocspGetUrl(url, request), 'application/ocsp-response', `OCSP ${url}`, etag),
          async (body) => {
            const verdict = await verify(body);
            checkOcspCurrent(verdict, this.#o.clock(), leewayMs, this.#capMs);
            return (verdict.nextUpdate ?? new Date(verdict.thisUpdate.getTime() + this.#capMs)).getTime() - this.#o.clock().getTime();
          },
        );
        const verdict = await verify(entry.body);
        checkOcspCurrent(verdict, this.#o.clock(), leewayMs, this.#capMs);
        return { value: verdict, url, cached };
      } catch (error) {
        problems.push(this.#unavailable(error, `OCSP ${url}`));
      }
    }
    throw mergeUnavailable(problems, 'no OCSP responder gave a usable answer');
  }

  #unavailable(error: unknown, what: string): SourceUnavailable {
    if (error instanceof SourceUnavailable) return error;
    if (error instanceof EvidenceUnusable) return new SourceUnavailable('directory_unreachable', `${what}: ${error.message}`, { cause: error });
    return new SourceUnavailable('directory_unreachable', `${what}: ${describe(error)}`, { cause: error });
  }
}
