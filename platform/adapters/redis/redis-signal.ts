import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { OutcomeSignal, OutcomeWatch } from '../../../core/ports/signal.js';
import { watchEmitter } from '../embedded/local-signal.js';
import { guardAdapter } from '../dependency.js';

/**
 * {@link OutcomeSignal} across processes: one Redis pub/sub channel per namespace. Each intake
 * instance subscribes once and fans messages out to its local waiters.
 */
export class RedisOutcomeSignal implements OutcomeSignal {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #channel: string;
  readonly #local = new EventEmitter();
  #subscribed: Promise<unknown> | undefined;

  constructor(redisUrl: string, namespace: string) {
    this.#channel = namespace ? `dcr:${namespace}:outcomes` : 'dcr:outcomes';
    this.#pub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.#sub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.#pub.on('error', () => {});
    this.#sub.on('error', () => {});
    this.#local.setMaxListeners(0);
    this.#sub.on('message', (_channel: string, requestId: string) => this.#local.emit(requestId));
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'signal');
  }

  watch(requestId: string): OutcomeWatch {
    this.#subscribed ??= this.#sub.subscribe(this.#channel).catch(() => {
      this.#subscribed = undefined;
    });
    return watchEmitter(this.#local, requestId);
  }

  async notify(requestId: string): Promise<void> {
    this.#local.emit(requestId);
    try {
      await this.#pub.publish(this.#channel, requestId);
    } catch {
      // Best effort: waiters also re-read the store.
    }
  }

  async close(): Promise<void> {
    this.#local.removeAllListeners();
    this.#pub.disconnect();
    this.#sub.disconnect();
  }
}
