import { retainedUntil, type CacheEntry, type RevocationCache } from '../../../core/ports/revocation-cache.js';

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
    if (retainedUntil(entry) <= this.#clock()) {
      this.#entries.delete(key);
      return null;
    }
    return entry;
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    if (retainedUntil(entry) <= this.#clock()) return;
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
