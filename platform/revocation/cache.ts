import type { RevocationCache } from '../../core/ports/revocation-cache.js';
import { MemoryRevocationCache } from '../adapters/embedded/revocation-cache.js';
import { RedisRevocationCache } from '../adapters/redis/revocation-cache.js';
import type { Runtime } from '../runtime/runtime.js';

/** The cache shared by the revocation workers and the intake: Redis when distributed, in-process when embedded. */
export function revocationCache(rt: Runtime, clock?: () => Date): RevocationCache {
  const now = clock ? () => clock().getTime() : undefined;
  if (rt.adapters.mode === 'distributed' && rt.config.redisUrl) return new RedisRevocationCache(rt.config.redisUrl, rt.config.namespace, now ? { clock: now } : {});
  return new MemoryRevocationCache(now ? { clock: now } : {});
}
