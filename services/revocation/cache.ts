import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';

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
 * The revocation stage's cache port (SPEC §9.2): directory answers shared by every worker
 * instance. Failures of the cache are never failures of a check: a broken cache is a miss.
 */
export interface RevocationCache {
  get(key: string): Promise<CacheEntry | null>;
  set(key: string, entry: CacheEntry): Promise<void>;
  close(): Promise<void>;
}

function isEntry(value: unknown): value is CacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.body === 'string' && typeof v.storedAt === 'number' && typeof v.expiresAt === 'number';
}

/** In-process cache (embedded mode: one process runs every stage). Bounded, oldest evicted first. */
export class MemoryRevocationCache implements RevocationCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #maxEntries: number;
  readonly #clock: () => number;

  constructor(options: { maxEntries?: number; clock?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#clock = options.clock ?? Date.now;
  }

  async get(key: string): Promise<CacheEntry | null> {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.#clock()) {
      this.#entries.delete(key);
      return null;
    }
    return entry;
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    if (entry.expiresAt <= this.#clock()) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}

/**
 * Redis cache (distributed mode): one key per source under `dcr:<namespace>:revocation:`, expiring
 * with the entry, so every worker instance shares one fetch per source and TTL.
 */
export class RedisRevocationCache implements RevocationCache {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #clock: () => number;

  constructor(redisUrl: string, namespace: string, options: { clock?: () => number } = {}) {
    this.#redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
    this.#redis.on('error', () => {});
    this.#prefix = namespace ? `dcr:${namespace}:revocation:` : 'dcr:revocation:';
    this.#clock = options.clock ?? Date.now;
  }

  #key(key: string): string {
    return `${this.#prefix}${createHash('sha256').update(key).digest('base64url')}`;
  }

  async get(key: string): Promise<CacheEntry | null> {
    try {
      const raw = await this.#redis.get(this.#key(key));
      if (!raw) return null;
      const parsed: unknown = JSON.parse(raw);
      if (!isEntry(parsed) || parsed.expiresAt <= this.#clock()) return null;
      return parsed;
    } catch {
      return null;
    }
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    const ttlMs = entry.expiresAt - this.#clock();
    if (ttlMs <= 0) return;
    try {
      await this.#redis.set(this.#key(key), JSON.stringify(entry), 'PX', Math.ceil(ttlMs));
    } catch {
      // A cache that cannot be written is a cache miss next time.
    }
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
