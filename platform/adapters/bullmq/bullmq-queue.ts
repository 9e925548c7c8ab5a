import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Stage } from '../../../core/domain/registration.js';
import {
  backoffDelay,
  type QueueCounts,
  type RetryPolicy,
  type StageConsumer,
  type StageHandler,
  type StageJobData,
  type WorkQueue,
} from '../../../core/ports/queue.js';
import { guardAdapter } from '../dependency.js';

export interface BullMqQueueOptions {
  redisUrl: string;
  namespace: string;
  policy: RetryPolicy;
  /** A running job's lock (renewed while it runs); a dead worker's job is redelivered after ≤ 1.5 × this. */
  leaseMs?: number;
}

/** `DCR_QUEUE_LEASE_MS`'s default. */
export const DEFAULT_LEASE_MS = 10_000;

function connectionOf(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    // BullMQ workers block on Redis: never give up reconnecting.
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
  };
}

/** The distributed {@link WorkQueue}: one BullMQ queue per stage; retries are BullMQ `attempts`. */
export class BullMqQueue implements WorkQueue {
  readonly #options: BullMqQueueOptions;
  readonly #queues = new Map<Stage, Queue>();
  readonly #workers = new Set<Worker>();
  readonly #prefix: string;

  constructor(options: BullMqQueueOptions) {
    this.#options = options;
    this.#prefix = options.namespace ? `dcr:${options.namespace}` : 'dcr';
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'queue');
  }

  #queue(stage: Stage): Queue {
    let queue = this.#queues.get(stage);
    if (!queue) {
      queue = new Queue(stage, { connection: connectionOf(this.#options.redisUrl), prefix: this.#prefix });
      queue.on('error', () => {
        // Connection errors surface on the awaited calls; ioredis keeps reconnecting.
      });
      this.#queues.set(stage, queue);
    }
    return queue;
  }

  async enqueue(stage: Stage, jobId: string, data: StageJobData): Promise<void> {
    await this.#queue(stage).add(stage, data, {
      jobId,
      attempts: this.#options.policy.attempts,
      backoff: { type: 'jitter' },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  consume(stage: Stage, handler: StageHandler, options: { concurrency: number }): StageConsumer {
    const policy = this.#options.policy;
    const worker = new Worker<StageJobData>(
      stage,
      async (job: Job<StageJobData>, token?: string) => {
        const attempt = job.attemptsMade + 1;
        try {
          await handler(job.data, { jobId: job.id ?? '', attempt, maxAttempts: policy.attempts });
        } catch (error) {
          if (attempt < policy.attempts || !token) throw error;
          // The last attempt threw, so the handler could not record the outcome (`failed` or otherwise): the
          // store was unreachable, or a concurrent update left the record in the stage. Failing the job would
          // strand the registration in its stage for good (no job, not `failed`, so not replayable). Keep it:
          // the last attempt runs again later (moveToDelayed does not count an attempt), with a growing delay (≤ 60 s).
          const extra = Math.max(1, (job.attemptsStarted ?? attempt) - job.attemptsMade);
          await job.moveToDelayed(Date.now() + Math.min(60_000, backoffDelay(policy, attempt + extra - 1)), token);
          throw new DelayedError();
        }
      },
      {
        connection: connectionOf(this.#options.redisUrl),
        prefix: this.#prefix,
        concurrency: options.concurrency,
        settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(policy, attemptsMade) },
        // A worker killed (or paused) mid-job: its lock, renewed every lockDuration/2 while the job
        // runs, lapses, and the next stalled check redelivers the job, so recovery takes at most
        // lease + lease/2. A paused worker that wakes after that cannot commit over the new
        // delivery: every transition is a compare-and-set on the record's version.
        lockDuration: this.#options.leaseMs ?? DEFAULT_LEASE_MS,
        stalledInterval: Math.max(1000, Math.floor((this.#options.leaseMs ?? DEFAULT_LEASE_MS) / 2)),
        maxStalledCount: 5,
      },
    );
    worker.on('error', () => {
      // Redis outages: BullMQ reconnects by itself; stage outcomes are recorded by the handler.
    });
    this.#workers.add(worker);
    return {
      close: async () => {
        await worker.close();
        this.#workers.delete(worker);
      },
    };
  }

  async revive(stage: Stage, jobId: string, data: StageJobData): Promise<'live' | 'revived'> {
    const queue = this.#queue(stage);
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return 'live';
      // Dead (failed) or done although the request never moved on: the same id must be free to queue again.
      await job.remove();
    }
    await this.enqueue(stage, jobId, data);
    return 'revived';
  }

  async counts(stage: Stage): Promise<QueueCounts> {
    const c = await this.#queue(stage).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0 };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.close()));
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
  }
}
