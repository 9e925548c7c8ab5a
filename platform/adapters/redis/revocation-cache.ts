import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { isCacheEntry, retainedUntil, type CacheEntry, type RevocationCache } from '../../../core/ports/revocation-cache.js';

/**
 * Redis cache (distributed mode): one key per source under `dcr:<namespace>:revocation:`, expiring
 * with the entry (its `keepUntil` when it keeps a validator for revalidation), so every worker
 * instance shares one fetch per source and TTL, and one validator.
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
      if (!isCacheEntry(parsed) || retainedUntil(parsed) <= this.#clock()) return null;
      return parsed;
    } catch {
      return null;
    }
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    const ttlMs = retainedUntil(entry) - this.#clock();
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
