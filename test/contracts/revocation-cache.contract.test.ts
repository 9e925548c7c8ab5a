/**
 * Contract of the revocation cache port (core/ports/revocation-cache.ts) over both implementations:
 * in-process (platform/adapters/embedded/revocation-cache.ts) and Redis
 * (platform/adapters/redis/revocation-cache.ts, against the run's redis-server).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RevocationCache } from '../../core/ports/revocation-cache.js';
import { MemoryRevocationCache } from '../../platform/adapters/embedded/revocation-cache.js';
import { RedisRevocationCache } from '../../platform/adapters/redis/revocation-cache.js';

const infra = inject('infra');

function cacheContract(name: string, make: (clock: () => number) => RevocationCache, skip = false) {
  describe.skipIf(skip)(`revocation cache contract: ${name}`, () => {
    let now = Date.now();
    let cache: RevocationCache;
    beforeAll(() => {
      cache = make(() => now);
    });
    afterAll(async () => {
      await cache?.close();
    });

    it('returns an entry until it expires, then nothing', async () => {
      const key = `crl:https://dir.example/${randomUUID()}`;
      expect(await cache.get(key)).toBeNull();
      const entry = { body: Buffer.from('der').toString('base64'), storedAt: now, expiresAt: now + 60_000 };
      await cache.set(key, entry);
      expect(await cache.get(key)).toEqual(entry);
      now += 59_000;
      expect(await cache.get(key)).toEqual(entry);
      now += 1_000;
      expect(await cache.get(key)).toBeNull();
    });

    it('a later set replaces the entry', async () => {
      const key = `ocsp:https://dir.example/${randomUUID()}`;
      await cache.set(key, { body: 'b25l', storedAt: now, expiresAt: now + 60_000 });
      const second = { body: 'dHdv', storedAt: now + 1, expiresAt: now + 120_000 };
      await cache.set(key, second);
      expect(await cache.get(key)).toEqual(second);
    });

    it('does not store an entry that is already expired', async () => {
      const key = `json:https://dir.example/${randomUUID()}`;
      await cache.set(key, { body: '', storedAt: now, expiresAt: now });
      expect(await cache.get(key)).toBeNull();
    });

    it('keeps an entry with a validator past its freshness until keepUntil, validator included (revalidation)', async () => {
      const key = `json:https://dir.example/${randomUUID()}`;
      const entry = { body: 'e30=', storedAt: now, expiresAt: now + 60_000, etag: '"v1"', keepUntil: now + 360_000 };
      await cache.set(key, entry);
      now += 60_000; // stale: still answered, for a conditional request only
      expect(await cache.get(key)).toEqual(entry);
      now += 299_000;
      expect(await cache.get(key)).toEqual(entry);
      now += 1_000;
      expect(await cache.get(key)).toBeNull();
    });

    it('stores an entry stale at once (no-cache) when it is kept for revalidation', async () => {
      const key = `json:https://dir.example/${randomUUID()}`;
      const entry = { body: 'e30=', storedAt: now, expiresAt: now, etag: 'W/"v2"', keepUntil: now + 300_000 };
      await cache.set(key, entry);
      expect(await cache.get(key)).toEqual(entry);
      await cache.set(`${key}/gone`, { ...entry, keepUntil: now });
      expect(await cache.get(`${key}/gone`)).toBeNull();
    });

    it('keys do not mix', async () => {
      const key = `json:https://dir.example/${randomUUID()}`;
      await cache.set(`${key}/a`, { body: 'YQ==', storedAt: now, expiresAt: now + 60_000 });
      expect(await cache.get(`${key}/b`)).toBeNull();
      expect((await cache.get(`${key}/a`))?.body).toBe('YQ==');
    });
  });
}

cacheContract('in-memory (embedded)', (clock) => new MemoryRevocationCache({ clock }));
cacheContract('Redis (distributed)', (clock) => new RedisRevocationCache(infra?.redisUrl ?? '', `contract${randomUUID().slice(0, 8)}`, { clock }), !infra);

describe.skipIf(!infra)('revocation cache: Redis, shared by two worker instances', () => {
  it('an entry written by one instance is read by another until it expires; namespaces do not mix', async () => {
    const url = infra?.redisUrl ?? '';
    const ns = randomUUID().slice(0, 8);
    let now = Date.now();
    const clock = () => now;
    const a = new RedisRevocationCache(url, `${ns}one`, { clock });
    const b = new RedisRevocationCache(url, `${ns}one`, { clock });
    const other = new RedisRevocationCache(url, `${ns}two`, { clock });
    try {
      const entry = { body: Buffer.from('{"keys":[]}').toString('base64'), storedAt: now, expiresAt: now + 30_000 };
      await a.set('json:https://dir.example/revoked', entry);
      expect(await b.get('json:https://dir.example/revoked')).toEqual(entry);
      expect(await other.get('json:https://dir.example/revoked')).toBeNull();
      now += 30_000;
      expect(await b.get('json:https://dir.example/revoked')).toBeNull();
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });
});

describe('revocation cache: failures are misses', () => {
  it('a Redis that cannot be reached is a cache miss, not a failure', async () => {
    const cache = new RedisRevocationCache('redis://127.0.0.1:1', 'nsdown');
    try {
      await cache.set('json:x', { body: '', storedAt: Date.now(), expiresAt: Date.now() + 1000 });
      expect(await cache.get('json:x')).toBeNull();
    } finally {
      await cache.close();
    }
  });
});
