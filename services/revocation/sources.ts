import { createHash } from 'node:crypto';
import { FetchFailed, FetchRefused, type OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import type { CacheEntry, RevocationCache } from './cache.js';
import { BoundedMemo } from '../../platform/util/bounded-memo.js';
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
} from './pki.js';
import { DcrError } from '../../core/errors/dcr-error.js';

/** Why a source could not give an answer: never the TPP's fault. */
export type UnavailableReason = 'directory_unreachable' | 'fetch_refused';

/** A directory, CRL or OCSP source gave no usable answer (unreachable, refused, 5xx, unparsable, stale). */
export class SourceUnavailable extends DcrError {
  readonly code = 'ERR_SOURCE_UNAVAILABLE';
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SourcesOptions {
  fetcher: OutboundFetcher;
  cache: RevocationCache;
  /** Cap on every cache lifetime (`config.fetch.cacheMaxAgeSeconds`). */
  maxAgeSeconds: number;
  /** Clock leeway for thisUpdate / nextUpdate. */
  leewaySeconds: number;
  clock: () => Date;
}

export interface Sourced<T> {
  value: T;
  /** Where it came from. */
  url: string;
  cached: boolean;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The directory's answers, fetched through the outbound fetcher (allow-list, limits) and cached in
 * the shared cache: JSON (JWKS, status lists) per Cache-Control, CRLs until nextUpdate, OCSP
 * responses until their nextUpdate, all capped by the configured max age. A cache entry never
 * stands in for a signature: signed evidence (CRL, OCSP) read from the cache is verified again,
 * unless this process has verified those very bytes for the same certificates before (an
 * in-process memo keyed by the exact cached body, so an entry altered in a shared cache is verified
 * afresh). Freshness (thisUpdate / nextUpdate) is checked on every use.
 */
export class DirectorySources {
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

  /** Cached entry, or one fetch per key at a time (concurrent callers share it). */
  async #load(
    key: string,
    fetch: () => Promise<{ body: Buffer; ttlMs: (body: Buffer) => Promise<number> | number }>,
    fresh = false,
  ): Promise<{ entry: CacheEntry; cached: boolean }> {
    const hit = fresh ? null : await this.#o.cache.get(key);
    if (hit && hit.expiresAt > this.#o.clock().getTime()) return { entry: hit, cached: true };
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = (async () => {
        const { body, ttlMs } = await fetch();
        const now = this.#o.clock().getTime();
        const ttl = Math.min(await ttlMs(body), this.#capMs);
        const entry: CacheEntry = { body: body.toString('base64'), storedAt: now, expiresAt: now + Math.max(0, ttl) };
        if (ttl > 0) await this.#o.cache.set(key, entry);
        return { entry, cached: false };
      })().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /** `compute(body)` for this exact cached body, computed once per (key, body). */
  async #derive<T>(key: string, body: string, compute: () => T | Promise<T>): Promise<T> {
    const hit = this.#derived.get(key);
    if (hit && hit.body === body) return hit.value as T;
    const value = await compute();
    this.#derived.set(key, { body, value });
    return value;
  }

  async #fetch(url: string, accept: string, what: string): Promise<{ body: Buffer; maxAge: number | null }> {
    try {
      const result = await this.#o.fetcher.fetch(url, accept);
      return { body: result.body, maxAge: result.maxAge };
    } catch (error) {
      if (error instanceof FetchRefused) throw new SourceUnavailable('fetch_refused', `${what}: refused by the outbound policy: ${error.message}`, { cause: error });
      if (error instanceof FetchFailed) throw new SourceUnavailable('directory_unreachable', `${what}: ${error.message}`, { cause: error });
      throw new SourceUnavailable('directory_unreachable', `${what}: ${describe(error)}`, { cause: error });
    }
  }

  /** A JSON document (JWKS, status list), cached per Cache-Control (capped); `fresh` skips the cache (and refreshes it). */
  async json(url: string, what: string, options: { fresh?: boolean } = {}): Promise<Sourced<unknown>> {
    const { entry, cached } = await this.#load(`json:${url}`, async () => {
      const { body, maxAge } = await this.#fetch(url, 'application/json', what);
      try {
        JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new SourceUnavailable('directory_unreachable', `${what}: the response is not JSON`, { cause: error });
      }
      return { body, ttlMs: () => (maxAge ?? this.#o.maxAgeSeconds) * 1000 };
    }, options.fresh === true);
    // Shared by callers of the same body: they only read it.
    const value = await this.#derive(`json:${url}`, entry.body, () => JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8')) as unknown);
    return { value, url, cached };
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
        const { entry, cached } = await this.#load(`crl:${url}`, async () => {
          const { body } = await this.#fetch(url, 'application/pkix-crl', `CRL ${url}`);
          return {
            body,
            ttlMs: async (b: Buffer) => {
              const { crl } = await verifyCrlSignature(b, issuer);
              checkCrlCurrent(crl, this.#o.clock(), leewayMs);
              return crl.nextUpdate ? crl.nextUpdate.getTime() - this.#o.clock().getTime() : this.#capMs;
            },
          };
        });
        const verified = await this.#derive(`crl:${url}:${issuer.node.fingerprint256}`, entry.body, () => verifyCrlSignature(Buffer.from(entry.body, 'base64'), issuer));
        checkCrlCurrent(verified.crl, this.#o.clock(), leewayMs);
        return { value: verified, url, cached };
      } catch (error) {
        problems.push(this.#unavailable(error, `CRL ${url}`));
      }
    }
    throw merge(problems, 'no CRL distribution point gave a usable CRL');
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
        const { entry, cached } = await this.#load(`ocsp:${url}:${requestHash}`, async () => {
          const { body } = await this.#fetch(ocspGetUrl(url, request), 'application/ocsp-response', `OCSP ${url}`);
          return {
            body,
            ttlMs: (b: Buffer) => {
              const verdict = verifyOcspResponse(b, cert, issuer, this.#o.clock());
              checkOcspCurrent(verdict, this.#o.clock(), leewayMs, this.#capMs);
              return (verdict.nextUpdate ?? new Date(verdict.thisUpdate.getTime() + this.#capMs)).getTime() - this.#o.clock().getTime();
            },
          };
        });
        const verdict = await this.#derive(`ocsp:${url}:${pair}`, entry.body, () =>
          verifyOcspResponse(Buffer.from(entry.body, 'base64'), cert, issuer, this.#o.clock()),
        );
        checkOcspCurrent(verdict, this.#o.clock(), leewayMs, this.#capMs);
        return { value: verdict, url, cached };
      } catch (error) {
        problems.push(this.#unavailable(error, `OCSP ${url}`));
      }
    }
    throw merge(problems, 'no OCSP responder gave a usable answer');
  }

  #unavailable(error: unknown, what: string): SourceUnavailable {
    if (error instanceof SourceUnavailable) return error;
    if (error instanceof EvidenceUnusable) return new SourceUnavailable('directory_unreachable', `${what}: ${error.message}`, { cause: error });
    return new SourceUnavailable('directory_unreachable', `${what}: ${describe(error)}`, { cause: error });
  }
}

function merge(problems: SourceUnavailable[], fallback: string): SourceUnavailable {
  const [first] = problems;
  if (problems.length === 1 && first) return first;
  const reason: UnavailableReason = problems.length > 0 && problems.every((p) => p.reason === 'fetch_refused') ? 'fetch_refused' : 'directory_unreachable';
  return new SourceUnavailable(reason, problems.length > 0 ? problems.map((p) => p.message).join('; ') : fallback);
}
