import type { Stage } from '../domain/registration.js';
import type { EventPublisher } from '../ports/events.js';
import type { StageJobData, WorkQueue } from '../ports/queue.js';
import type { PendingOutboxEntry, Store } from '../ports/store.js';

export interface OutboxRelayOptions {
  owner: string;
  /** Idle poll interval. */
  intervalMs?: number;
  batchSize?: number;
  /** Jobs younger than this are left to their writer's fast path. */
  jobGraceMs?: number;
  leaseMs?: number;
  onPublished?: (count: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * The transactional-outbox relay: the single leader (a store lease) publishes pending events in
 * order per aggregate (= per Kafka key) and enqueues stale jobs, then marks them published. A crash
 * between publish and mark republishes with the same event ids: at least once, never lost.
 */
export class OutboxRelay {
  readonly #opts: Required<Omit<OutboxRelayOptions, 'onPublished' | 'onError'>> & Pick<OutboxRelayOptions, 'onPublished' | 'onError'>;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #kicked = false;

  constructor(
    private readonly store: Store,
    private readonly publisher: EventPublisher,
    private readonly queue: WorkQueue,
    options: OutboxRelayOptions,
  ) {
    this.#opts = { intervalMs: 200, batchSize: 200, jobGraceMs: 2000, leaseMs: 10_000, ...options };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Publish now rather than at the next poll (in-process writers call it after commit). */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** One pass: returns how many entries were handled. Exposed for tests and graceful shutdown. */
  async drainOnce(): Promise<number> {
    if (!(await this.store.tryAcquireLease('outbox-relay', this.#opts.owner, this.#opts.leaseMs))) return 0;
    const pending = await this.store.pendingOutbox(this.#opts.batchSize);
    if (pending.length === 0) return 0;
    const now = Date.now();
    const events: PendingOutboxEntry[] = [];
    const jobs: PendingOutboxEntry[] = [];
    for (const p of pending) {
      if (p.entry.kind === 'event') events.push(p);
      else if (now - Date.parse(p.entry.time) >= this.#opts.jobGraceMs) jobs.push(p);
    }
    if (events.length) {
      await this.publisher.publish(events.map((e) => e.entry));
      await this.store.markPublished(events.map((e) => ({ aggregate: e.aggregate, aggregateId: e.aggregateId, id: e.entry.id })));
    }
    for (const job of jobs) {
      await this.queue.enqueue(job.entry.topic as Stage, job.entry.id, job.entry.data as unknown as StageJobData);
      await this.store.markPublished([{ aggregate: job.aggregate, aggregateId: job.aggregateId, id: job.entry.id }]);
    }
    const handled = events.length + jobs.length;
    if (handled) this.#opts.onPublished?.(handled);
    return handled;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      let handled = 0;
      try {
        this.#kicked = false;
        handled = await this.drainOnce();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.#opts.onError?.(error);
      }
      if (!this.#running) break;
      if (handled >= this.#opts.batchSize || (this.#kicked && failures === 0)) continue;
      const delay = failures ? Math.min(10_000, this.#opts.intervalMs * 2 ** failures) : this.#opts.intervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await this.store.releaseLease('outbox-relay', this.#opts.owner).catch(() => {});
  }
}
