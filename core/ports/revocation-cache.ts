/** One cached directory answer: the raw body as fetched, and when it stops being usable. */
export interface CacheEntry {
  /** base64 of the response body (JWKS / status JSON, DER CRL, DER OCSP response). */
  body: string;
  /** Epoch ms. */
  storedAt: number;
  /** Epoch ms: the entry is fresh (an answer without asking the directory) until this instant, exclusive. */
  expiresAt: number;
  /**
   * The directory's validator (`ETag`) for this body, absent when it gave none or said `no-store`.
   * A stale entry with a validator is revalidated (`If-None-Match`; a 304 keeps the body).
   */
  etag?: string;
  /**
   * Epoch ms, ≥ `expiresAt`: how long a stale entry with a validator is kept for revalidation
   * (absent: `expiresAt`). Between `expiresAt` and `keepUntil` the entry is never an answer by
   * itself: only the base of a conditional request.
   */
  keepUntil?: number;
}

/** The instant an entry stops being kept: `keepUntil` when it is later than `expiresAt`. */
export function retainedUntil(entry: CacheEntry): number {
  return entry.keepUntil !== undefined && entry.keepUntil > entry.expiresAt ? entry.keepUntil : entry.expiresAt;
}

/**
 * The revocation checks' cache port (SPEC §9.2): directory answers shared by every worker instance
 * and the intake's credential check. Implementations: platform/adapters/embedded/revocation-cache.ts
 * (in-process, embedded mode) and platform/adapters/redis/revocation-cache.ts (distributed mode);
 * their contract is test/contracts/revocation-cache.contract.test.ts.
 *
 * Contract: `get` answers an entry set under that key until its {@link retainedUntil} (exclusive:
 * `expiresAt`, or a later `keepUntil`), validator included, then null; a caller tells fresh from
 * stale by `expiresAt`. `set` of an entry no longer retained stores nothing; a later `set` replaces
 * the entry. Failures of the cache are never failures of a check: a broken cache answers null and
 * swallows writes.
 */
export interface RevocationCache {
  get(key: string): Promise<CacheEntry | null>;
  set(key: string, entry: CacheEntry): Promise<void>;
  close(): Promise<void>;
}

/** A value read back from a shared cache is an entry (untrusted bytes: checked before use). */
export function isCacheEntry(value: unknown): value is CacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.body === 'string' &&
    typeof v.storedAt === 'number' &&
    typeof v.expiresAt === 'number' &&
    (v.etag === undefined || typeof v.etag === 'string') &&
    (v.keepUntil === undefined || typeof v.keepUntil === 'number')
  );
}
