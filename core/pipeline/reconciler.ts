import { stageJob } from '../domain/events.js';
import { STAGES, STAGE_STATUS, type RegistrationStatus, type Stage } from '../domain/registration.js';
import type { Logger } from '../ports/logger.js';
import type { WorkQueue } from '../ports/queue.js';
import type { Store } from '../ports/store.js';

export interface ReconcilerOptions {
  /** The relay's lease owner: the sweep runs under the relay's leader lease, so one instance sweeps. */
  owner: string;
  leaseName?: string;
  leaseMs?: number;
  /** Only requests unchanged for this long are looked at (a live job changes its request well before). */
  afterMs: number;
  /** Requests looked at per status and sweep. */
  batchSize?: number;
  onRevived?: (count: number) => void;
}

/** The stage a non-final status waits for or runs in. */
const STAGE_OF = new Map<RegistrationStatus, Stage>(STAGES.flatMap((stage) => [[STAGE_STATUS[stage].queued, stage] as const, [STAGE_STATUS[stage].running, stage] as const]));

/**
 * Finds registrations stranded in a stage with no job to move them on (the queue lost its data:
 * Redis without AOF, a flushed key space, a dead job in a failed set) and queues that job again
 * from the stored state, under its stable id, recording it in the request's history. A request
 * whose job still waits in the outbox is left to the relay; one whose job is live is left alone.
 * Stages are idempotent, so a job revived twice does its work once.
 */
export class Reconciler {
  readonly #opts: Required<Omit<ReconcilerOptions, 'onRevived'>> & Pick<ReconcilerOptions, 'onRevived'>;

  constructor(
    private readonly store: Store,
    private readonly queue: WorkQueue,
    private readonly logger: Logger,
    options: ReconcilerOptions,
  ) {
    this.#opts = { leaseName: 'outbox-relay', leaseMs: 10_000, batchSize: 500, ...options };
  }

  /** One sweep; `now` is the sweep's clock (tests move it forward). Returns what it found. */
  async sweepOnce(now: Date = new Date()): Promise<{ checked: number; revived: number }> {
    if (!(await this.store.tryAcquireLease(this.#opts.leaseName, this.#opts.owner, this.#opts.leaseMs))) return { checked: 0, revived: 0 };
    const staleBefore = new Date(now.getTime() - this.#opts.afterMs).toISOString();
    const inOutbox = new Set((await this.store.pendingOutbox(10_000, 'job')).map((p) => p.aggregateId));
    let checked = 0;
    let revived = 0;
    for (const [status, stage] of STAGE_OF) {
      const stranded = await this.store.listRegistrations({ status, until: staleBefore, limit: this.#opts.batchSize });
      for (const registration of stranded) {
        checked += 1;
        if (inOutbox.has(registration.id)) continue;
        // The list may be seconds old by now: a stage that committed meanwhile has moved the request
        // on and completed its job, which revive would take for a lost one. Look at it again.
        const current = await this.store.getRegistration(registration.id);
        if (!current || current.version !== registration.version) continue;
        const job = stageJob(stage, registration.id, registration.generation, now, registration.traceparent);
        const data = { requestId: registration.id, generation: registration.generation, ...(registration.traceparent ? { traceparent: registration.traceparent } : {}) };
        if ((await this.queue.revive(stage, job.id, data)) !== 'revived') continue;
        revived += 1;
        const at = new Date().toISOString();
        // The history says so; a concurrent transition (the revived job already running) wins the write.
        await this.store.updateRegistration(current, {
          set: { updatedAt: at },
          history: [{ at, event: 'reconciled', stage, actor: 'reconciler', detail: `no live ${stage} job: queued again as ${job.id}` }],
        });
        this.logger.warn({ requestId: registration.id, stage, jobId: job.id }, 'reconciler: a request had no live job; queued again');
      }
    }
    if (revived) this.#opts.onRevived?.(revived);
    return { checked, revived };
  }
}
