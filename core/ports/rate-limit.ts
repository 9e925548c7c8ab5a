/** A counter after a hit: the hits in the current window (this one included) and the time left in it. */
export interface RateLimitCount {
  current: number;
  ttlMs: number;
}

/**
 * The intake's rate-limit counters (services/intake/plugins/protection.ts, behind
 * @fastify/rate-limit): fixed windows, one counter per key, the window opened by the key's first hit.
 * In memory for one process (platform/adapters/embedded/rate-limit-store.ts), or shared by every
 * intake instance in Redis when `DCR_REDIS_URL` is set (platform/adapters/redis/rate-limit-store.ts);
 * chosen by platform/runtime/service-stores.ts. A store that cannot count rejects: the intake then
 * lets the request through (fail open) rather than answer 5xx.
 */
export interface RateLimitStore {
  /** Counts one hit of `key` in its window of `windowMs`. */
  hit(key: string, windowMs: number): Promise<RateLimitCount>;
  /** The counter without counting: `{ current: 0, ttlMs: 0 }` when no window is open. */
  peek(key: string, windowMs: number): Promise<RateLimitCount>;
  close(): Promise<void>;
}
