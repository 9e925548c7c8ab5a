import { Redis } from 'ioredis';
import type { RateLimitCount, RateLimitStore } from '../../../core/ports/rate-limit.js';

/** One hit: INCR, the window's expiry set by the first hit (@fastify/rate-limit's RedisStore script, fixed windows). */
const HIT = `
  local current = redis.call('INCR', KEYS[1])
  local ttl
  if current == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
  else
    ttl = redis.call('PTTL', KEYS[1])
  end
  return {current, ttl}
`;

const PEEK = `
  local current = redis.call('GET', KEYS[1])
  if not current then return {0, 0} end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = 0 end
  return {tonumber(current), ttl}
`;

type Counting = Redis & {
  dcrRateLimitHit(key: string, windowMs: number): Promise<[number, number]>;
  dcrRateLimitPeek(key: string): Promise<[number, number]>;
};

export interface RedisRateLimitStoreOptions {
  redisUrl: string;
  /** Key prefix (the deployment namespace): keys are `dcr-{namespace}-rl-{key}`. */
  namespace?: string;
  /** Connection errors (the store keeps reconnecting; hits reject meanwhile). */
  onError?: (error: Error) => void;
}

/**
 * The distributed {@link RateLimitStore}: counters in Redis, shared by every intake instance. Calls
 * fail fast while Redis is down (no offline queue, one try): the intake fails open meanwhile.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Counting;
  readonly #prefix: string;

  private constructor(redis: Redis, namespace: string | undefined) {
    redis.defineCommand('dcrRateLimitHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('dcrRateLimitPeek', { numberOfKeys: 1, lua: PEEK });
    this.#redis = redis as Counting;
    this.#prefix = `dcr${namespace ? `-${namespace}` : ''}-rl-`;
  }

  /** Connects before the first hit; if Redis is down now, it keeps reconnecting meanwhile (`onError` told). */
  static async open(options: RedisRateLimitStoreOptions): Promise<RedisRateLimitStore> {
    const redis = new Redis(options.redisUrl, { connectTimeout: 1000, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    redis.on('error', (error: Error) => options.onError?.(error));
    const store = new RedisRateLimitStore(redis, options.namespace);
    await redis.connect().catch((error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
    return store;
  }

  async hit(key: string, windowMs: number): Promise<RateLimitCount> {
    const [current, ttlMs] = await this.#redis.dcrRateLimitHit(this.#prefix + key, windowMs);
    return { current, ttlMs };
  }

  async peek(key: string): Promise<RateLimitCount> {
    const [current, ttlMs] = await this.#redis.dcrRateLimitPeek(this.#prefix + key);
    return { current, ttlMs };
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
