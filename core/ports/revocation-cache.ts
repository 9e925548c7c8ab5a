/** One cached directory answer: the raw body as fetched, and when it stops being usable. */
export interface CacheEntry {
  /** base64 of the response body (JWKS / status JSON, DER CRL, DER OCSP response). */
  body: string;
  /** Epoch ms. */
  storedAt: number;
  /** Epoch ms: the entry is not used at or after this instant. */
  expiresAt: number;
}

/**
 * The revocation checks' cache port (SPEC §9.2): directory answers shared by every worker instance
 * and the intake's credential check. Implementations: platform/adapters/embedded/revocation-cache.ts
 * (in-process, embedded mode) and platform/adapters/redis/revocation-cache.ts (distributed mode);
 * their contract is test/contracts/revocation-cache.contract.test.ts.
 *
 * Contract: `get` answers an entry set under that key until its `expiresAt` (exclusive), then null;
 * `set` of an already expired entry stores nothing; a later `set` replaces the entry. Failures of
 * the cache are never failures of a check: a broken cache answers null and swallows writes.
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
  return typeof v.body === 'string' && typeof v.storedAt === 'number' && typeof v.expiresAt === 'number';
}
