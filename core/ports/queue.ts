import type { Stage } from '../domain/registration.js';

export interface StageJobData {
  requestId: string;
  generation: number;
  traceparent?: string;
}

export interface JobContext {
  jobId: string;
  /** 1-based attempt number of this delivery. */
  attempt: number;
  maxAttempts: number;
}

/**
 * Handles one stage job. Throwing asks the queue to retry (exponential backoff with jitter) up to
 * `maxAttempts`; a handler marks the registration `failed` itself on its last attempt.
 */
export type StageHandler = (data: StageJobData, context: JobContext) => Promise<void>;

export interface StageConsumer {
  close(): Promise<void>;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
}

/** The work queue between stages: BullMQ on Redis, or the embedded SQLite queue. */
export interface WorkQueue {
  /** Idempotent per `jobId`: adding a job id that is already queued is a no-op. */
  enqueue(stage: Stage, jobId: string, data: StageJobData): Promise<void>;
  consume(stage: Stage, handler: StageHandler, options: { concurrency: number }): StageConsumer;
  counts(stage: Stage): Promise<QueueCounts>;
  /**
   * The reconciler's repair: `live` when the job is waiting, delayed or running; otherwise (lost with
   * the queue's data, or dead in a failed set) it is queued again under the same id: `revived`.
   */
  revive(stage: Stage, jobId: string, data: StageJobData): Promise<'live' | 'revived'>;
  close(): Promise<void>;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

/** Exponential backoff with full jitter (AWS architecture blog), capped at 5 minutes. */
export function backoffDelay(policy: RetryPolicy, attemptsMade: number, random: () => number = Math.random): number {
  const cap = 300_000;
  const exp = Math.min(cap, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
