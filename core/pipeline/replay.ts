import { registrationEvent, stageJob } from '../domain/events.js';
import { STAGE_STATUS, type OutboxEntry, type Registration, type RegistrationStatus, type Stage } from '../domain/registration.js';
import type { JobDispatcher } from '../outbox/job-dispatcher.js';
import type { RegistrationFilter, Store } from '../ports/store.js';

export interface ReplayOptions {
  /** Who asked: recorded in the history and the `dcr.registration.replayed` event. */
  actor: string;
  /** Also replay a `rejected` registration (from the verify stage). */
  force?: boolean;
  now?: Date;
  /** Called after the commit (the in-process relay's kick, so the event leaves at once). */
  onCommitted?: () => void;
}

export type ReplayResult =
  | { replayed: true; registration: Registration; stage: Stage }
  | { replayed: false; reason: string; status?: RegistrationStatus; notFound?: boolean };

/** Whether `registration` may be replayed, and from which stage. */
export function replayPlan(registration: Pick<Registration, 'status' | 'failedStage'>, force: boolean): { stage: Stage } | { reason: string } {
  if (registration.status === 'failed') return { stage: registration.failedStage ?? 'verify' };
  if (registration.status === 'rejected') {
    return force ? { stage: 'verify' } : { reason: 'the registration was rejected (the TPP\'s fault); replay it with force=true to verify it again' };
  }
  if (registration.status === 'registered') return { reason: 'the registration is registered; nothing to replay' };
  return { reason: `the registration is in flight (${registration.status}); nothing to replay` };
}

/** Conflicting writers are retried this many times before the replay gives up (and says so). */
const MAX_CONFLICTS = 5;

/**
 * Re-runs a `failed` registration from the stage that failed (or, with `force`, a `rejected` one from
 * the verify stage). One conditional write bumps the generation (so the new stage job has a new id,
 * and any job of the old generation still queued is ignored by the stage runner), moves the
 * registration to the stage's queued status, clears the error, appends an audited history entry and
 * puts the `dcr.registration.replayed` event and the stage job in the outbox; the job is then
 * dispatched at once (the outbox relay picks it up if this process dies first).
 *
 * Safe to call twice or concurrently: the version check lets one caller win, the others find the
 * registration in flight and change nothing. It never provisions twice: the provisioner keeps the
 * client id the request reserved and inserting the same client again is a no-op.
 */
export async function replayRegistration(store: Store, dispatcher: JobDispatcher, id: string, options: ReplayOptions): Promise<ReplayResult> {
  for (let conflicts = 0; ; conflicts++) {
    const current = await store.getRegistration(id);
    if (!current) return { replayed: false, reason: 'no such registration', notFound: true };
    const plan = replayPlan(current, options.force === true);
    if ('reason' in plan) return { replayed: false, reason: plan.reason, status: current.status };

    const now = options.now ?? new Date();
    const at = now.toISOString();
    const stage = plan.stage;
    const status = STAGE_STATUS[stage].queued;
    const generation = current.generation + 1;
    const set = {
      status,
      generation,
      failedStage: null,
      lastError: null,
      updatedAt: at,
      attempts: { ...current.attempts, [stage]: 0 },
      ...(current.status === 'rejected' ? { outcome: null } : {}),
    };
    const outbox: OutboxEntry[] = [
      registrationEvent('dcr.registration.replayed', { ...current, status }, now, {
        stage,
        actor: options.actor,
        ...(current.status === 'rejected' ? { error: current.outcome?.error } : {}),
      }),
      stageJob(stage, current.id, generation, now, current.traceparent),
    ];
    const detail =
      current.status === 'rejected'
        ? `forced replay of a rejected request (generation ${generation})`
        : `replay from ${stage} after: ${current.lastError ?? 'unknown error'} (generation ${generation})`;
    const committed = await store.updateRegistration(current, {
      set,
      history: [{ at, event: 'replayed', stage, from: current.status, to: status, actor: options.actor, detail: detail.slice(0, 500) }],
      outbox,
    });
    if (!committed) {
      if (conflicts + 1 >= MAX_CONFLICTS) return { replayed: false, reason: 'the registration kept changing concurrently; try again', status: current.status };
      continue;
    }
    await dispatcher.dispatch(committed.id, outbox);
    options.onCommitted?.();
    return { replayed: true, registration: committed, stage };
  }
}

export interface BulkReplayFilter {
  /** `failed` (default) or `rejected` (needs `force`); other statuses match but are never replayed. */
  status?: RegistrationStatus;
  since?: string;
  until?: string;
  error?: string;
}

export interface BulkReplayResult {
  matched: number;
  /** Replayed (or, in a dry run, that would be replayed). */
  replayed: number;
  skipped: number;
  dryRun: boolean;
  /** Ids of the registrations replayed (or that would be), at most `maxIds`. */
  requestIds: string[];
}

/** The store's largest page (both adapters cap `limit` there). */
const MAX_PAGE = 10_000;

/**
 * Every registration matching `filter`, newest first, paging on `submittedAt` (the store's cursor is
 * "submitted strictly before"). A page continues from its last timestamp inclusive, dropping records
 * already seen, so records sharing a timestamp at a page boundary are not skipped; when a page brings
 * nothing new (more ties than a page holds) it is fetched again twice as large, and only past
 * {@link MAX_PAGE} ties does the cursor step strictly past that timestamp.
 */
export async function* matchingRegistrations(store: Store, filter: RegistrationFilter, pageSize = 500): AsyncGenerator<Registration> {
  const seen = new Set<string>();
  let before: string | undefined;
  let limit = pageSize;
  for (;;) {
    const page = await store.listRegistrations({ ...filter, limit, ...(before ? { before } : {}) });
    let fresh = 0;
    for (const r of page) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      fresh++;
      yield r;
    }
    if (page.length < limit) return;
    const last = page[page.length - 1] as Registration;
    if (fresh > 0) {
      before = new Date(Date.parse(last.submittedAt) + 1).toISOString();
      limit = pageSize;
    } else if (limit < MAX_PAGE) {
      limit = Math.min(MAX_PAGE, limit * 2);
    } else {
      before = last.submittedAt;
      limit = pageSize;
    }
  }
}

/** Replays every registration matching `filter` (default status `failed`); counts what it did. */
export async function replayMatching(
  store: Store,
  dispatcher: JobDispatcher,
  filter: BulkReplayFilter,
  options: ReplayOptions & { dryRun?: boolean; maxIds?: number; onProgress?: (done: number) => void; concurrency?: number },
): Promise<BulkReplayResult> {
  const maxIds = options.maxIds ?? 1000;
  const result: BulkReplayResult = { matched: 0, replayed: 0, skipped: 0, dryRun: options.dryRun === true, requestIds: [] };
  // Collect first: replayed records change status and `updatedAt`, which must not move the cursor.
  const matches: Registration[] = [];
  for await (const r of matchingRegistrations(store, { ...filter, status: filter.status ?? 'failed' })) matches.push(r);
  result.matched = matches.length;
  if (options.dryRun) {
    for (const r of matches) {
      if ('stage' in replayPlan(r, options.force === true)) {
        result.replayed++;
        if (result.requestIds.length < maxIds) result.requestIds.push(r.id);
      } else result.skipped++;
    }
    return result;
  }
  // A few at a time: each replay is one conditional write, and writes issued together share a
  // commit (the embedded group commit; concurrent round trips on MongoDB).
  const concurrency = Math.max(1, options.concurrency ?? 32);
  for (let i = 0; i < matches.length; i += concurrency) {
    const chunk = matches.slice(i, i + concurrency);
    const outcomes = await Promise.all(chunk.map((r) => replayRegistration(store, dispatcher, r.id, options)));
    for (const [j, outcome] of outcomes.entries()) {
      if (outcome.replayed) {
        result.replayed++;
        if (result.requestIds.length < maxIds) result.requestIds.push((chunk[j] as Registration).id);
      } else result.skipped++;
    }
    options.onProgress?.(result.replayed + result.skipped);
  }
  return result;
}
