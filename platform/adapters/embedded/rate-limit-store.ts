import type { RateLimitCount, RateLimitStore } from '../../../core/ports/rate-limit.js';

/** Most anonymous (per-address) counters kept in memory; the oldest is forgotten first. */
export const MAX_ANONYMOUS_COUNTERS = 5000;
/** Most TPP counters kept in memory: only counters whose window has passed are ever dropped. */
export const MAX_TPP_COUNTERS = 100_000;

interface Counter {
  current: number;
  iterationStartMs: number;
}

/**
 * The in-memory {@link RateLimitStore} (no `DCR_REDIS_URL`: the counters of this process), with two
 * budgets: TPP counters (keys `tpp:…`, one per certificate identity) are never evicted inside their
 * window, whatever the traffic of others; anonymous counters (`ip:…`) live in their own LRU of
 * {@link MAX_ANONYMOUS_COUNTERS}. So requests from many addresses cannot push a TPP's counter out and
 * reset it mid-window. Past {@link MAX_TPP_COUNTERS} live TPP counters (more certificate identities
 * in one window than any directory has), a new identity is counted in the anonymous budget.
 */
export class SplitBudgetStore implements RateLimitStore {
  readonly #tpp = new Map<string, Counter>();
  readonly #anonymous = new Map<string, Counter>();

  async hit(key: string, windowMs: number): Promise<RateLimitCount> {
    const now = Date.now();
    const table = this.#table(key, now, windowMs);
    let counter = table.get(key);
    if (!counter || counter.iterationStartMs + windowMs <= now) counter = { current: 1, iterationStartMs: now };
    else counter = { ...counter, current: counter.current + 1 };
    table.delete(key);
    table.set(key, counter);
    if (table === this.#anonymous && table.size > MAX_ANONYMOUS_COUNTERS) {
      const oldest = table.keys().next().value;
      if (oldest !== undefined) table.delete(oldest);
    }
    return { current: counter.current, ttlMs: windowMs - (now - counter.iterationStartMs) };
  }

  async peek(key: string, windowMs: number): Promise<RateLimitCount> {
    const now = Date.now();
    const counter = this.#tpp.get(key) ?? this.#anonymous.get(key);
    if (!counter || counter.iterationStartMs + windowMs <= now) return { current: 0, ttlMs: 0 };
    return { current: counter.current, ttlMs: windowMs - (now - counter.iterationStartMs) };
  }

  /** Counters kept (tests and metrics). */
  get sizes(): { tpp: number; anonymous: number } {
    return { tpp: this.#tpp.size, anonymous: this.#anonymous.size };
  }

  async close(): Promise<void> {
    this.#tpp.clear();
    this.#anonymous.clear();
  }

  #table(key: string, now: number, windowMs: number): Map<string, Counter> {
    if (!key.startsWith('tpp:')) return this.#anonymous;
    if (this.#tpp.has(key) || this.#tpp.size < MAX_TPP_COUNTERS) return this.#tpp;
    // Full: drop the counters whose window has passed (insertion order is window order).
    for (const [k, c] of this.#tpp) {
      if (c.iterationStartMs + windowMs > now) break;
      this.#tpp.delete(k);
    }
    return this.#tpp.size < MAX_TPP_COUNTERS ? this.#tpp : this.#anonymous;
  }
}
