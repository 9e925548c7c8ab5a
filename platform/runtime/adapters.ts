import { join } from 'node:path';
import { isDistributed } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openEmbeddedDatabase } from '../adapters/embedded/database.js';
import { LocalOutcomeSignal } from '../adapters/embedded/local-signal.js';
import { SqliteEventBus } from '../adapters/embedded/sqlite-event-bus.js';
import { SqliteQueue } from '../adapters/embedded/sqlite-queue.js';
import { SqliteStore } from '../adapters/embedded/sqlite-store.js';
import { BullMqQueue } from '../adapters/bullmq/bullmq-queue.js';
import { KafkaEventBus } from '../adapters/kafka/kafka-event-bus.js';
import { MongoStore } from '../adapters/mongo/mongo-store.js';
import { RedisOutcomeSignal } from '../adapters/redis/redis-signal.js';
import type { EventBus } from '../../core/ports/events.js';
import type { WorkQueue } from '../../core/ports/queue.js';
import type { OutcomeSignal } from '../../core/ports/signal.js';
import type { Store } from '../../core/ports/store.js';
import type { Logger } from './logger.js';

export interface Adapters {
  mode: 'embedded' | 'distributed';
  store: Store;
  queue: WorkQueue;
  bus: EventBus;
  signal: OutcomeSignal;
  close(): Promise<void>;
}

/** One adapter set; `close` stops taking work first (queue), then the bus and signal, then the storage (`closeStorage`). */
function adapterSet(mode: Adapters['mode'], parts: Omit<Adapters, 'mode' | 'close'>, closeStorage: () => Promise<void>): Adapters {
  return {
    mode,
    ...parts,
    close: async () => {
      await parts.queue.close();
      await parts.bus.close();
      await parts.signal.close();
      await closeStorage();
    },
  };
}

/**
 * Chooses the adapter set by configuration alone: MongoDB + BullMQ/Redis + Kafka when the three
 * URLs are set, else the embedded set (SQLite file under DCR_DATA_DIR, in-process wake-ups).
 */
export async function openAdapters(config: Config, service: string, logger?: Pick<Logger, 'error'>): Promise<Adapters> {
  const policy = { attempts: config.stageAttempts, baseDelayMs: config.retryBaseDelayMs };
  const source = `urn:dcr:${service}`;
  if (isDistributed(config)) {
    const store = await MongoStore.connect(config.mongoUrl as string, config.namespace, {
      startupWaitMs: config.storeStartupWaitMs,
      onWait: (attempt, error) => logger?.error({ err: error, attempt }, 'MongoDB cannot be reached yet; waiting for it before starting (DCR_STORE_STARTUP_WAIT_MS)'),
      ...(config.mongoCommandCensusDir ? { census: { dir: config.mongoCommandCensusDir, instance: service } } : {}),
    });
    const queue = new BullMqQueue({ redisUrl: config.redisUrl as string, namespace: config.namespace, policy, leaseMs: config.queueLeaseMs });
    const bus = new KafkaEventBus({ brokers: config.kafkaBrokers ?? [], namespace: config.namespace, clientId: `dcr-${service}`, source });
    const signal = new RedisOutcomeSignal(config.redisUrl as string, config.namespace);
    return adapterSet('distributed', { store, queue, bus, signal }, () => store.close());
  }
  const db = openEmbeddedDatabase(join(config.dataDir));
  const queue = new SqliteQueue(db, policy, {
    onError: (error, stage) => logger?.error({ err: error, stage }, 'embedded queue: a claim or job update failed; retrying'),
  });
  const bus = new SqliteEventBus(db, { source });
  // One file, one transaction: a change's jobs and events go straight into the queue and the log
  // (committed-outbox.ts), not through the outbox and the relay.
  const store = new SqliteStore(db, { committed: { jobs: queue, events: bus } });
  const signal = new LocalOutcomeSignal();
  return adapterSet('embedded', { store, queue, bus, signal }, () => db.close());
}
