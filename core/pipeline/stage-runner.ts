import { DependencyUnavailable, RegistrationRejection, RetryableFailure } from '../domain/errors.js';
import { registrationEvent, stageJob } from '../domain/events.js';
import {
  NEXT_STAGE,
  STAGE_STATUS,
  type HistoryEntry,
  type OutboxEntry,
  type Registration,
  type RegistrationStatus,
  type Stage,
} from '../domain/registration.js';
import { currentTraceparent, recordStageOutcome, traceStage } from './stage-tracing.js';
import type { JobDispatcher } from '../outbox/job-dispatcher.js';
import type { Logger } from '../ports/logger.js';
import type { JobContext, StageConsumer, StageJobData, WorkQueue } from '../ports/queue.js';
import type { OutcomeSignal } from '../ports/signal.js';
import type { RegistrationChange, Store } from '../ports/store.js';

/** What a stage's work produced: the fields to store and the events to emit with the transition. */
export interface StageSuccess {
  /** The registration as the work left it (a stage may have committed intermediate steps). */
  registration: Registration;
  set?: RegistrationChange['set'];
  /** Events to emit with the transition, built from the updated registration. */
  events?: (updated: Pick<Registration, 'id' | 'kind' | 'status' | 'clientId' | 'verified'>, now: Date) => OutboxEntry[];
  /** Overrides the status after this stage (default: queued for the next stage, or `registered`). */
  status?: RegistrationStatus;
}

/**
 * One stage's work. Throw {@link RegistrationRejection} (final) or anything else (retried): a
 * backing service that is down arrives from its adapter as {@link DependencyUnavailable} (stage
 * outcome `retryable` in core/errors/registry.ts).
 */
export interface StageWork {
  readonly stage: Stage;
  run(registration: Registration, context: JobContext): Promise<StageSuccess>;
}

export interface StageRunnerDeps {
  store: Store;
  queue: WorkQueue;
  dispatcher: JobDispatcher;
  signal: OutcomeSignal;
  logger: Logger;
  /** Called after each committed change that carries events (the in-process relay's kick). */
  onCommitted?: () => void;
  /** Metrics hook: stage, outcome, seconds. */
  observe?: (stage: Stage, outcome: 'advanced' | 'rejected' | 'retry' | 'failed' | 'skipped', seconds: number) => void;
  clock?: () => Date;
  /**
   * Whether an error is the store refusing writes for now (the embedded database on a full disk).
   * Such an attempt is not the registration's failure: on the last attempt it is not recorded as
   * `failed`; the job runs again later (the queue's last-attempt rule) until the store takes writes.
   */
  storeRefused?: (error: unknown) => boolean;
  /** This worker instance (`service@host:pid`), recorded in every history entry the stage writes. */
  worker?: string;
}

/** The registration's `lastError`: a stable reason first when the error has one. */
function describe(error: unknown): string {
  if (error instanceof RetryableFailure || error instanceof DependencyUnavailable) return `${error.reason}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Runs one stage of the state machine on top of at-least-once job delivery. Every transition is a
 * conditional update on the record's version, written together with its events and the next job, so
 * a redelivered or concurrent duplicate job finds the work done and does nothing twice.
 */
export class StageRunner {
  constructor(
    private readonly work: StageWork,
    private readonly deps: StageRunnerDeps,
  ) {}

  start(concurrency: number): StageConsumer {
    // One span per stage run, child of the job's traceparent (platform/observability/tracing.ts).
    return this.deps.queue.consume(this.work.stage, (data, ctx) => traceStage(this.work.stage, data, ctx, () => this.handle(data, ctx)), { concurrency });
  }

  async handle(data: StageJobData, context: JobContext): Promise<void> {
    const started = performance.now();
    const stage = this.work.stage;
    const { store, logger } = this.deps;
    const now = () => (this.deps.clock ? this.deps.clock() : new Date());
    const by = this.deps.worker ? { worker: this.deps.worker } : {};
    const observe = (outcome: 'advanced' | 'rejected' | 'retry' | 'failed' | 'skipped') => {
      recordStageOutcome(outcome);
      this.deps.observe?.(stage, outcome, (performance.now() - started) / 1000);
    };

    let registration = await store.getRegistration(data.requestId);
    if (!registration) {
      logger.warn({ requestId: data.requestId, stage }, 'job for an unknown registration ignored');
      return observe('skipped');
    }
    const { queued, running } = STAGE_STATUS[stage];
    if (registration.generation !== data.generation || (registration.status !== queued && registration.status !== running)) {
      // Redelivery after the transition was committed, or a job from before a replay.
      return observe('skipped');
    }
    if (registration.status !== running) {
      const t = now();
      const moved = await store.updateRegistration(registration, {
        set: { status: running, updatedAt: t.toISOString(), attempts: { ...registration.attempts, [stage]: context.attempt } },
        history: [{ at: t.toISOString(), event: 'transition', stage, from: registration.status, to: running, attempt: context.attempt, ...by }],
      });
      if (!moved) return this.#retryAfterConflict(registration.id, stage);
      registration = moved;
    }

    try {
      const result = await this.work.run(registration, context);
      const t = now();
      const next = NEXT_STAGE[stage];
      const status = result.status ?? (next ? STAGE_STATUS[next].queued : 'registered');
      const base = result.registration;
      const preview = { ...base, ...result.set, status };
      const outbox: OutboxEntry[] = [...(result.events?.(preview, t) ?? [])];
      if (next && status === STAGE_STATUS[next].queued) outbox.push(stageJob(next, base.id, base.generation, t, currentTraceparent() ?? base.traceparent));
      const history: HistoryEntry[] = [
        { at: t.toISOString(), event: 'transition', stage, from: base.status, to: status, attempt: context.attempt, ...by },
      ];
      const committed = await store.updateRegistration(base, {
        set: { ...result.set, status, updatedAt: t.toISOString(), lastError: null, failedStage: null },
        history,
        outbox,
        completesJob: context.jobId,
      });
      if (!committed) return this.#retryAfterConflict(base.id, stage);
      await this.#afterCommit(committed, outbox);
      return observe('advanced');
    } catch (error) {
      const latest = (await store.getRegistration(registration.id)) ?? registration;
      if (latest.status !== running || latest.generation !== data.generation) return observe('skipped');
      const t = now();
      if (error instanceof RegistrationRejection) {
        const set = { status: 'rejected' as const, updatedAt: t.toISOString(), outcome: error.toJSON(), lastError: null };
        const outbox = [registrationEvent('dcr.registration.rejected', { ...latest, ...set }, t, { stage, ...error.toJSON() })];
        const committed = await store.updateRegistration(latest, {
          set,
          history: [{ at: t.toISOString(), event: 'transition', stage, from: running, to: 'rejected', attempt: context.attempt, error: error.error, detail: error.errorDescription, ...by }],
          outbox,
          completesJob: context.jobId,
        });
        if (!committed) return this.#retryAfterConflict(latest.id, stage);
        await this.#afterCommit(committed, outbox);
        return observe('rejected');
      }
      const message = describe(error);
      if (context.attempt < context.maxAttempts || this.deps.storeRefused?.(error)) {
        await store.updateRegistration(latest, {
          set: { lastError: message, updatedAt: t.toISOString(), attempts: { ...latest.attempts, [stage]: context.attempt } },
          history: [{ at: t.toISOString(), event: 'attempt_failed', stage, attempt: context.attempt, error: message, ...by }],
        });
        logger.warn({ requestId: latest.id, stage, attempt: context.attempt, err: message }, 'stage attempt failed; will retry');
        observe('retry');
        throw error;
      }
      const set = { status: 'failed' as const, failedStage: stage, updatedAt: t.toISOString(), lastError: message };
      const outbox = [registrationEvent('dcr.registration.failed', { ...latest, ...set }, t, { stage, error: 'server_error' })];
      const committed = await store.updateRegistration(latest, {
        set: { ...set, attempts: { ...latest.attempts, [stage]: context.attempt } },
        history: [{ at: t.toISOString(), event: 'transition', stage, from: running, to: 'failed', attempt: context.attempt, error: message, ...by }],
        outbox,
        completesJob: context.jobId,
      });
      if (!committed) return this.#retryAfterConflict(latest.id, stage);
      logger.error({ requestId: latest.id, stage, attempts: context.attempt, err: message }, 'registration failed; replayable by operators');
      await this.#afterCommit(committed, outbox);
      return observe('failed');
    }
  }

  async #afterCommit(registration: Registration, outbox: OutboxEntry[]): Promise<void> {
    await this.deps.dispatcher.dispatch(registration.id, outbox);
    if (outbox.some((e) => e.kind === 'event')) this.deps.onCommitted?.();
    if (['registered', 'rejected', 'failed'].includes(registration.status)) await this.deps.signal.notify(registration.id);
  }

  async #retryAfterConflict(requestId: string, stage: Stage): Promise<void> {
    // Another delivery of the same job changed the record first; if it moved on, we are done.
    const latest = await this.deps.store.getRegistration(requestId);
    const { queued, running } = STAGE_STATUS[stage];
    if (!latest || (latest.status !== queued && latest.status !== running)) return;
    throw new RetryableFailure('concurrent_update', `registration ${requestId} changed concurrently in stage ${stage}`);
  }
}
