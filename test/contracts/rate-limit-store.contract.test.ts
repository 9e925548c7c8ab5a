/**
 * The intake's RateLimitStore port (core/ports/rate-limit.ts) over the in-memory counters and Redis,
 * opened by the runtime wiring (platform/runtime/service-stores.ts) from configuration: fixed windows
 * opened by a key's first hit, one counter per key, a peek that does not count, a new window once
 * the old one has passed. Through the intake (429s, Retry-After, the shared budget of two instances,
 * Redis down): test/security/protection.test.ts, test/security/rate-limit-eviction.test.ts,
 * test/chaos/rate-limit-redis.ts.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RateLimitStore } from '../../core/ports/rate-limit.js';
import { openRateLimitStore } from '../../platform/runtime/service-stores.js';
import { runContract, until, type Factory, type TempPlace } from './backends.js';

const MINUTE = 60_000;

export function rateLimitStoreContract(open: Factory<RateLimitStore>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  let store: RateLimitStore | undefined;

  beforeEach(async () => {
    place = await fresh();
    store = await open(place);
  });
  afterEach(async () => {
    await store?.close();
    await place.release();
  });
  const counters = () => store as RateLimitStore;

  it('counts the hits of a key in its window, with the time left; other keys count apart', async () => {
    const first = await counters().hit('tpp:org-1', MINUTE);
    expect(first.current).toBe(1);
    expect(first.ttlMs).toBeGreaterThan(0);
    expect(first.ttlMs).toBeLessThanOrEqual(MINUTE);
    expect((await counters().hit('tpp:org-1', MINUTE)).current).toBe(2);
    const third = await counters().hit('tpp:org-1', MINUTE);
    expect(third.current).toBe(3);
    expect(third.ttlMs).toBeLessThanOrEqual(first.ttlMs);
    expect((await counters().hit('ip:10.0.0.1', MINUTE)).current).toBe(1);
    expect((await counters().hit('tpp:org-2', MINUTE)).current).toBe(1);
  });

  it('peeks without counting: nothing before the first hit, the count after', async () => {
    expect(await counters().peek('tpp:org-3', MINUTE)).toEqual({ current: 0, ttlMs: 0 });
    await counters().hit('tpp:org-3', MINUTE);
    await counters().hit('tpp:org-3', MINUTE);
    const peeked = await counters().peek('tpp:org-3', MINUTE);
    expect(peeked.current).toBe(2);
    expect(peeked.ttlMs).toBeGreaterThan(0);
    expect((await counters().peek('tpp:org-3', MINUTE)).current).toBe(2);
    expect((await counters().hit('tpp:org-3', MINUTE)).current).toBe(3);
  });

  it('opens a new window once the last one has passed', async () => {
    const windowMs = 100;
    expect((await counters().hit('ip:10.0.0.2', windowMs)).current).toBe(1);
    expect((await counters().hit('ip:10.0.0.2', windowMs)).current).toBe(2);
    // Polled: the first hit after the window is the first of a new one.
    await until('the window has passed', () => counters().peek('ip:10.0.0.2', windowMs), (c) => c.current === 0, 5000);
    expect((await counters().hit('ip:10.0.0.2', windowMs)).current).toBe(1);
  });
}

runContract<RateLimitStore>(
  'RateLimitStore',
  {
    embedded: (place) => openRateLimitStore({ namespace: place.namespace }),
    distributed: (infra) => (place) => openRateLimitStore({ namespace: place.namespace, redisUrl: infra.redisUrl }),
  },
  'Redis',
  rateLimitStoreContract,
);
