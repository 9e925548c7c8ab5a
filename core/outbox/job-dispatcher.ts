import type { OutboxEntry, Stage } from '../domain/registration.js';
import type { Logger } from '../ports/logger.js';
import type { StageJobData, WorkQueue } from '../ports/queue.js';
import type { Store } from '../ports/store.js';

/**
 * Hands a just-committed state change's jobs to the queue at once (the fast path). If this process
 * dies first, the {@link OutboxRelay} finds the entries still pending and enqueues them; job ids are
 * stable, so a double enqueue is a no-op and stages are idempotent anyway.
 */
export class JobDispatcher {
  constructor(
    private readonly store: Store,
    private readonly queue: WorkQueue,
    private readonly logger: Logger,
  ) {}

  async dispatch(aggregateId: string, outbox: readonly OutboxEntry[]): Promise<void> {
    // A committing store (Store.outboxDelivery) queued the jobs with the change itself.
    if (this.store.outboxDelivery === 'committed') return;
    const jobs = outbox.filter((e) => e.kind === 'job');
    if (jobs.length === 0) return;
    try {
      for (const job of jobs) await this.queue.enqueue(job.topic as Stage, job.id, job.data as unknown as StageJobData);
      await this.store.markPublished(jobs.map((j) => ({ aggregate: 'registration' as const, aggregateId, id: j.id })));
    } catch (error) {
      // Left pending in the outbox: the relay retries.
      this.logger.warn({ err: error, aggregateId }, 'job dispatch deferred to the outbox relay');
    }
  }
}
