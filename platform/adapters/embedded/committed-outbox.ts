import type { OutboxEntry, Stage } from '../../../core/domain/registration.js';
import type { StageJobData } from '../../../core/ports/queue.js';

/**
 * The embedded adapters' shortcut past the transactional outbox. The outbox exists to bridge a
 * database and a separate broker: a state change and "this must be published" commit together, and
 * a relay hands the entry over later. In the embedded set the work queue and the event log are
 * tables in the same SQLite file as the store, so the store writes a change's jobs and events
 * straight into them, in the change's own transaction: they are durable exactly when the change
 * is, and there is nothing to relay, mark or dispatch (`Store.outboxDelivery` = `committed`).
 * Both methods run synchronously inside the caller's transaction.
 */
export interface CommittedJobs {
  /** sqlite-queue.ts: the job row, idempotent per id (claimed at once by a consumer of this process with a free slot: stage fusion). */
  insertCommitted(stage: Stage, jobId: string, data: StageJobData): void;
  /** sqlite-queue.ts: the job whose run the change ends (RegistrationChange.completesJob) is deleted with it. */
  completeCommitted(jobId: string): void;
}

export interface CommittedEvents {
  /** sqlite-event-bus.ts: the events appended to the log, in order. */
  appendCommitted(events: readonly OutboxEntry[]): void;
}

/** Where a committing store sends a change's outbox entries instead of the outbox table. */
export interface CommittedOutbox {
  jobs: CommittedJobs;
  events: CommittedEvents;
}
