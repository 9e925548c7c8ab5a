/**
 * The stores a single service owns beside the pipeline's adapter set (adapters.ts), chosen by
 * configuration alone like the Store/WorkQueue/EventBus: the gateway-sync client registry and the
 * sandbox AS's store (MongoDB when `DCR_MONGO_URL` is set, else SQLite under `DCR_DATA_DIR`), and the
 * intake's rate-limit counters (Redis when `DCR_REDIS_URL` is set, else in memory).
 */
import type { Config } from '../config/schema.js';
import { SqliteClientRegistry } from '../adapters/embedded/client-registry.js';
import { SplitBudgetStore } from '../adapters/embedded/rate-limit-store.js';
import { SqliteAsStore } from '../adapters/embedded/sandbox-as-store.js';
import { MongoClientRegistry } from '../adapters/mongo/client-registry.js';
import { MongoAsStore } from '../adapters/mongo/sandbox-as-store.js';
import { RedisRateLimitStore } from '../adapters/redis/rate-limit-store.js';
import type { ClientRegistry } from '../../core/ports/client-registry.js';
import type { RateLimitStore } from '../../core/ports/rate-limit.js';
import type { AsStore } from '../../core/ports/sandbox-as-store.js';
import type { Logger } from './logger.js';

type StoreConfig = Pick<Config, 'mongoUrl' | 'namespace' | 'dataDir'>;

/** The gateway-sync registry: `{namespace}_gateway_sync_clients` in MongoDB, or `DCR_DATA_DIR/gateway-sync.sqlite`. */
export async function openClientRegistry(config: StoreConfig): Promise<ClientRegistry> {
  return config.mongoUrl ? MongoClientRegistry.connect(config.mongoUrl, config.namespace) : new SqliteClientRegistry(config.dataDir);
}

/** The sandbox AS's store: `{namespace}_sandbox_as_*` in MongoDB, or `DCR_DATA_DIR/sandbox-as.sqlite`. */
export async function openAsStore(config: StoreConfig): Promise<AsStore> {
  return config.mongoUrl ? MongoAsStore.connect(config.mongoUrl, config.namespace) : new SqliteAsStore(config.dataDir);
}

/**
 * The intake's rate-limit counters: in Redis (`dcr-{namespace}-rl-*`, shared by every instance), or
 * in this process's memory. Redis being down at start is logged, not fatal (the limit fails open).
 */
export async function openRateLimitStore(config: Pick<Config, 'redisUrl' | 'namespace'>, logger?: Pick<Logger, 'warn'>): Promise<RateLimitStore> {
  if (!config.redisUrl) return new SplitBudgetStore();
  return RedisRateLimitStore.open({
    redisUrl: config.redisUrl,
    namespace: config.namespace,
    onError: (error) => logger?.warn({ err: { message: error.message } }, 'rate limit store unavailable'),
  });
}
