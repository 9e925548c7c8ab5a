import { EventEmitter } from 'node:events';
import { STAGES, type Stage } from '../../../core/domain/registration.js';
import {
  backoffDelay,
  type QueueCounts,
  type RetryPolicy,
  type StageConsumer,
  type StageHandler,
  type StageJobData,
  type WorkQueue,
} from '../../../core/ports/queue.js';
import type { EmbeddedDatabase } from './database.js';
import type { CommittedJobs } from './committed-outbox.js';
import type { GroupCommit } from './group-commit.js';
import { guardAdapter } from '../dependency.js';

/** A consumer of this process, as insertCommitted sees it: whether it has a free slot, and how to run a row in it. */
interface LocalConsumer {
  hasSlot(): boolean;
  start(row: JobRow): void;
}

interface JobRow {
  id: string;
  data: string;
  attempts_made: number;
}

/**
 * How long a claimed job stays claimed when its consumer, in this process, lost its bookkeeping.
 * It does not bound crash recovery: the process holds the data directory alone (data-dir-lock.ts),
 * so at start-up every claimed job belongs to a dead process and is given back at once.
 */
const LOCK_MS = 60_000;

/**
 * While the database refuses writes (a full disk: group-commit.ts `writeFailure`), a consumer runs
 * one job at a time, this long apart: each tries the disk again, without spinning through every job
 * (a rolled-back claim leaves its job waiting, so it would be claimed again at once).
 */
const WRITE_FAILURE_PAUSE_MS = 1000;

/**
 * The embedded {@link WorkQueue}: jobs persisted in the SQLite file (a restart resumes them),
 * claimed atomically, retried with exponential backoff and jitter like BullMQ's `attempts`.
 * A stage's next job is written by the store inside the change that produced it (insertCommitted,
 * committed-outbox.ts), and is as durable as that change. The queue's own writes (enqueue by the
 * relay or the reconciler, claims, retries, completions) join the open group-commit batch without
 * waiting for it (`lazy`): they are redone from durable state if lost in a crash, so such a loss
 * only means a job runs again, which stages tolerate.
 */
export class SqliteQueue implements WorkQueue, CommittedJobs {
  readonly #commits: GroupCommit;
  readonly #policy: RetryPolicy;
  readonly #wake = new EventEmitter();
  readonly #consumers = new Set<StageConsumer>();
  readonly #stmt;
  /**
   * Stages that may hold a waiting job due later (a retry's backoff, or rows left by an earlier
   * process): only for those does a consumer ask for the next `run_at` after a claim that emptied
   * the due jobs. Jobs are written by this process alone (data-dir-lock.ts): enqueue makes a job
   * due now, and every delayed one comes from `retry`/`retryLast` below, which add their stage.
   */
  readonly #mayHaveDelayed = new Set<Stage>();

  readonly #onError: (error: unknown, stage: Stage) => void;
  /** This process's consumers, by stage: where insertCommitted hands a new job over (stage fusion). */
  readonly #local = new Map<Stage, Set<LocalConsumer>>();
  /** Jobs whose row a committed change deleted (completeCommitted): their run ends without a delete of its own. */
  readonly #completedWithChange = new Set<string>();

  /** `onError`: a claim or a job's bookkeeping failed (e.g. the database stayed locked); the consumer goes on after a pause. */
  constructor(embedded: EmbeddedDatabase, policy: RetryPolicy, options: { onError?: (error: unknown, stage: Stage) => void } = {}) {
    const db = embedded.sqlite;
    this.#commits = embedded.commits;
    this.#policy = policy;
    this.#onError = options.onError ?? (() => {});
    this.#wake.setMaxListeners(0);
    this.#stmt = {
      insert: db.prepare(
        `INSERT INTO jobs (id, stage, data, state, run_at, attempts_made, updated_at) VALUES (?, ?, ?, 'waiting', ?, 0, ?)
         ON CONFLICT (id) DO NOTHING`,
      ),
      // Up to @limit due jobs at once: fewer than asked for means none is left, so a wake costs one
      // claim (not one per job plus an empty one).
      claim: db.prepare<{ now: number; stage: string; limit: number }, JobRow & { run_at: number }>(
        `UPDATE jobs SET state = 'active', locked_until = @now + ${LOCK_MS}, attempts_made = attempts_made + 1, updated_at = @now
         WHERE id IN (SELECT id FROM jobs WHERE stage = @stage AND state = 'waiting' AND run_at <= @now ORDER BY run_at LIMIT @limit)
         RETURNING id, data, attempts_made, run_at`,
      ),
      // Stage fusion: the job written already claimed for this process's consumer (insertCommitted).
      insertActive: db.prepare(
        `INSERT INTO jobs (id, stage, data, state, run_at, attempts_made, locked_until, updated_at) VALUES (?, ?, ?, 'active', ?, 1, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      ),
      complete: db.prepare('DELETE FROM jobs WHERE id = ?'),
      retry: db.prepare(`UPDATE jobs SET state = 'waiting', run_at = ?, locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?`),
      // The last attempt again later, without counting it (like BullMQ's moveToDelayed in bullmq-queue.ts).
      retryLast: db.prepare(
        `UPDATE jobs SET state = 'waiting', run_at = ?, locked_until = NULL, attempts_made = attempts_made - 1, last_error = ?, updated_at = ? WHERE id = ?`,
      ),
      recover: db.prepare(`UPDATE jobs SET state = 'waiting', locked_until = NULL WHERE state = 'active' AND locked_until < ?`),
      recoverAll: db.prepare(`UPDATE jobs SET state = 'waiting', run_at = ?, locked_until = NULL WHERE state = 'active'`),
      exists: db.prepare<[string], { state: string }>('SELECT state FROM jobs WHERE id = ?'),
      nextRunAt: db.prepare<[string], { run_at: number | null }>(
        `SELECT MIN(run_at) AS run_at FROM jobs WHERE stage = ? AND state = 'waiting'`,
      ),
      counts: db.prepare<[number, string], { state: string; delayed: number; n: number }>(
        `SELECT state, (state = 'waiting' AND run_at > ?) AS delayed, COUNT(*) AS n FROM jobs WHERE stage = ? GROUP BY state, delayed`,
      ),
    };
    // A crash leaves claimed jobs `active`. This process owns the data directory (data-dir-lock.ts),
    // so whoever claimed them is dead: give them all back now, not when their locks lapse.
    this.#commits.lazy(() => this.#stmt.recoverAll.run(Date.now()));
    for (const stage of STAGES) this.#mayHaveDelayed.add(stage);
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'queue');
  }

  async enqueue(stage: Stage, jobId: string, data: StageJobData): Promise<void> {
    const now = Date.now();
    this.#commits.lazy(() => this.#stmt.insert.run(jobId, stage, JSON.stringify(data), now, now));
    this.#wake.emit(stage);
  }

  /**
   * {@link CommittedJobs}: the job row written inside the caller's transaction (a state change of the
   * embedded store, sqlite-store.ts), so it is exactly as durable as the change that produced it and
   * needs no outbox entry. Idempotent per job id, like {@link enqueue}.
   */
  insertCommitted(stage: Stage, jobId: string, data: StageJobData): void {
    const now = Date.now();
    const json = JSON.stringify(data);
    // Stage fusion (issue 21; Flink's operator chaining): when this process consumes the stage and
    // has a free slot, the row is written already claimed by it, in the same transaction as the
    // change that produced the job, and the consumer runs it at once: no claim, no wake, no queue
    // hop. The boundary keeps its durable checkpoint: the change and the claimed row commit
    // together, and a crash leaves the row `active`, which start-up gives back (data-dir-lock.ts:
    // whoever claimed it is dead). The handler's read of the record waits until the change is
    // durable (group-commit.ts `observed`); should the caller's transaction roll back, the row goes
    // with it and the run finds nothing to do.
    const local = this.#commits.writeFailure ? undefined : this.#freeConsumer(stage);
    if (local) {
      if (this.#stmt.insertActive.run(jobId, stage, json, now, now + LOCK_MS, now).changes === 1) {
        local.start({ id: jobId, data: json, attempts_made: 1 });
        return;
      }
    } else {
      this.#stmt.insert.run(jobId, stage, json, now, now);
    }
    // The consumer's claim runs after the caller's transaction returns (the loop resumes on a later
    // microtask) and joins the same batch: it sees the row.
    this.#wake.emit(stage);
  }

  /** A consumer of `stage` in this process with a free slot, if any (on every stage transition: no copy of the set). */
  #freeConsumer(stage: Stage): LocalConsumer | undefined {
    for (const consumer of this.#local.get(stage) ?? []) if (consumer.hasSlot()) return consumer;
    return undefined;
  }

  /**
   * {@link CommittedJobs}: the job's run ends with the caller's change (the stage's final transition,
   * sqlite-store.ts): its row is deleted in the same transaction, so the job is done exactly when
   * the change is stored, and its consumer's bookkeeping has nothing left to write.
   */
  completeCommitted(jobId: string): void {
    this.#stmt.complete.run(jobId);
    this.#completedWithChange.add(jobId);
  }

  consume(stage: Stage, handler: StageHandler, options: { concurrency: number }): StageConsumer {
    let closed = false;
    const running = new Set<Promise<void>>();
    let timer: NodeJS.Timeout | undefined;
    let wakeUp: (() => void) | undefined;
    const onWake = () => wakeUp?.();
    this.#wake.on(stage, onWake);

    /** Resolves true when the job was put back (a retry, due later): the loop must learn its time. */
    const runJob = async (row: JobRow): Promise<boolean> => {
      const data = JSON.parse(row.data) as StageJobData;
      let outcome: { ok: true } | { ok: false; message: string };
      try {
        await handler(data, { jobId: row.id, attempt: row.attempts_made, maxAttempts: this.#policy.attempts });
        outcome = { ok: true };
      } catch (error) {
        outcome = { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
      // Deleted with the stage's own transition (completeCommitted): nothing to write. Had the
      // handler then failed, the row would already be gone with a committed outcome.
      const completed = this.#completedWithChange.delete(row.id);
      try {
        const now = Date.now();
        if (outcome.ok) {
          if (!completed) this.#commits.lazy(() => this.#stmt.complete.run(row.id));
        }
        // The last attempt threw, so the handler could not record the outcome (`failed` or otherwise):
        // dropping the job would strand the request in its stage. It runs again, later and later (≤ 60 s).
        else if (row.attempts_made >= this.#policy.attempts) {
          const delay = Math.min(60_000, backoffDelay(this.#policy, row.attempts_made));
          this.#mayHaveDelayed.add(stage);
          this.#commits.lazy(() => this.#stmt.retryLast.run(now + delay, outcome.message, now, row.id));
        } else {
          this.#mayHaveDelayed.add(stage);
          this.#commits.lazy(() => this.#stmt.retry.run(now + backoffDelay(this.#policy, row.attempts_made), outcome.message, now, row.id));
        }
      } catch (error) {
        // The job stays `active`; its lock lapses and it runs again (stages are idempotent).
        this.#onError(error, stage);
      }
      return !outcome.ok;
    };

    // While the store refuses writes (a full disk), one job at a time, and no wake from a finishing one.
    const slots = () => (this.#commits.writeFailure ? 1 : options.concurrency);
    /** Runs a claimed row in a slot (from the loop's claim, or handed over by insertCommitted). */
    const start = (row: JobRow): void => {
      const p: Promise<void> = Promise.resolve()
        .then(() => runJob(row))
        .then(
          (retried) => {
            const wasFull = running.size >= slots();
            running.delete(p);
            // A saturated loop waits for a slot, and a retry's time must be learnt; otherwise
            // enqueue (or the timer) wakes the loop, and a wake here would be an empty claim.
            if (!this.#commits.writeFailure && (wasFull || retried)) wakeUp?.();
          },
          () => {
            running.delete(p);
            if (!this.#commits.writeFailure) wakeUp?.();
          },
        );
      running.add(p);
    };
    const local: LocalConsumer = { hasSlot: () => !closed && running.size < slots(), start };
    const locals = this.#local.get(stage) ?? new Set<LocalConsumer>();
    locals.add(local);
    this.#local.set(stage, locals);

    let recoveredAt = Date.now();
    const loop = async () => {
      while (!closed) {
        let delay: number;
        try {
          if (Date.now() - recoveredAt > LOCK_MS / 2) {
            // Jobs whose bookkeeping was lost (or whose consumer died) while this process runs.
            recoveredAt = Date.now();
            this.#commits.lazy(() => this.#stmt.recover.run(recoveredAt));
          }
          let drained = false;
          while (!closed && running.size < slots()) {
            const limit = slots() - running.size;
            const rows = this.#commits.lazy(() => this.#stmt.claim.all({ now: Date.now(), stage, limit }));
            rows.sort((a, b) => a.run_at - b.run_at);
            for (const row of rows) start(row);
            if (this.#commits.writeFailure) break;
            if (rows.length < limit) {
              drained = true;
              break;
            }
          }
          if (closed) break;
          // All slots busy: a finishing job wakes the loop. Drained: the next delayed job, if any can exist.
          let next: number | null | undefined;
          if (drained && this.#mayHaveDelayed.has(stage)) {
            next = this.#stmt.nextRunAt.get(stage)?.run_at;
            if (next == null) this.#mayHaveDelayed.delete(stage);
          }
          delay = this.#commits.writeFailure ? WRITE_FAILURE_PAUSE_MS : next == null ? 1000 : Math.max(5, Math.min(1000, next - Date.now()));
        } catch (error) {
          // E.g. another connection held the write lock past busy_timeout: try again shortly.
          this.#onError(error, stage);
          delay = 1000;
        }
        const paused = this.#commits.writeFailure !== undefined;
        await new Promise<void>((resolve) => {
          // While writes are refused only close() cuts the pause short.
          wakeUp = paused ? () => closed && resolve() : resolve;
          timer = setTimeout(resolve, delay);
        });
        clearTimeout(timer);
        wakeUp = undefined;
      }
    };
    const done = loop();
    const consumer: StageConsumer = {
      close: async () => {
        closed = true;
        locals.delete(local);
        this.#wake.off(stage, onWake);
        clearTimeout(timer);
        wakeUp?.();
        await done;
        await Promise.allSettled([...running]);
        this.#consumers.delete(consumer);
      },
    };
    this.#consumers.add(consumer);
    return consumer;
  }

  async revive(stage: Stage, jobId: string, data: StageJobData): Promise<'live' | 'revived'> {
    if (this.#stmt.exists.get(jobId)) return 'live';
    await this.enqueue(stage, jobId, data);
    return 'revived';
  }

  async counts(stage: Stage): Promise<QueueCounts> {
    const counts: QueueCounts = { waiting: 0, active: 0, delayed: 0 };
    for (const row of this.#stmt.counts.all(Date.now(), stage)) {
      if (row.state === 'active') counts.active += row.n;
      else if (row.state === 'waiting' && row.delayed) counts.delayed += row.n;
      else if (row.state === 'waiting') counts.waiting += row.n;
    }
    return counts;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.close()));
  }
}
