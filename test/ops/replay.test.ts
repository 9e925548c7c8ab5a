import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import type { Registration, RegistrationStatus, Stage } from '../../core/domain/registration.js';
import { PipelineMetrics } from '../../platform/observability/metrics.js';
import { JobDispatcher } from '../../core/outbox/job-dispatcher.js';
import { matchingRegistrations, replayMatching, replayRegistration } from '../../core/pipeline/replay.js';
import { aRegistration } from '../support/registration.js';

const quiet = { info() {}, warn() {}, error() {} };

function registration(id: string, status: RegistrationStatus, submittedAt: string, extra: Partial<Registration> = {}): Registration {
  return aRegistration(id, { status, submittedAt, ...extra });
}

describe('replayRegistration on the embedded store', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  let store: SqliteStore;
  let queue: SqliteQueue;
  let dispatcher: JobDispatcher;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-replay-'));
    db = openEmbeddedDatabase(dir);
    store = new SqliteStore(db);
    queue = new SqliteQueue(db, { attempts: 3, baseDelayMs: 50 });
    dispatcher = new JobDispatcher(store, queue, quiet);
  });
  afterEach(async () => {
    await queue.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const failedIn = (id: string, stage: Stage, at = '2026-01-01T00:00:00.000Z') =>
    registration(id, 'failed', at, { failedStage: stage, lastError: 'directory_unreachable: 503', attempts: { [stage]: 3 } });

  it('moves a failed registration back to its stage with a new generation, an audit entry, the event and the job', async () => {
    await store.insertRegistration(failedIn('r1', 'revocation'), []);
    const result = await replayRegistration(store, dispatcher, 'r1', { actor: 'ops:alice', now: new Date('2026-02-01T00:00:00Z') });
    expect(result.replayed).toBe(true);
    const after = (await store.getRegistration('r1')) as Registration;
    expect(after).toMatchObject({ status: 'checking_revocation', generation: 1, failedStage: null, lastError: null, updatedAt: '2026-02-01T00:00:00.000Z' });
    expect(after.history.at(-1)).toMatchObject({ event: 'replayed', actor: 'ops:alice', stage: 'revocation', from: 'failed', to: 'checking_revocation' });
    // The job left at once (dispatched and marked); the event waits for the relay.
    const pending = await store.pendingOutbox(100);
    expect(pending.map((p) => p.entry.type)).toEqual(['dcr.registration.replayed']);
    expect(pending[0]?.entry.data).toMatchObject({ request_id: 'r1', stage: 'revocation', actor: 'ops:alice', status: 'checking_revocation' });
    expect(await queue.counts('revocation')).toMatchObject({ waiting: 1 });
  });

  it('is idempotent and lets exactly one of many concurrent replays win', async () => {
    await store.insertRegistration(failedIn('r1', 'verify'), []);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => replayRegistration(store, dispatcher, 'r1', { actor: `a${i}` })));
    expect(results.filter((r) => r.replayed)).toHaveLength(1);
    for (const r of results) if (!r.replayed) expect(r.reason).toContain('in flight');
    const after = (await store.getRegistration('r1')) as Registration;
    expect(after.generation).toBe(1);
    expect(after.history.filter((h) => h.event === 'replayed')).toHaveLength(1);
    expect(await queue.counts('verify')).toMatchObject({ waiting: 1 });
  });

  it('leaves registered, in-flight and (unless forced) rejected registrations alone', async () => {
    await store.insertRegistration(registration('ok', 'registered', '2026-01-01T00:00:00.000Z', { clientId: 'c1' }), []);
    await store.insertRegistration(registration('busy', 'provisioning', '2026-01-01T00:00:00.000Z'), []);
    await store.insertRegistration(
      registration('no', 'rejected', '2026-01-01T00:00:00.000Z', { outcome: { error: 'invalid_redirect_uri', error_description: 'x' } }),
      [],
    );
    for (const id of ['ok', 'busy', 'no']) {
      const r = await replayRegistration(store, dispatcher, id, { actor: 'a' });
      expect(r.replayed).toBe(false);
      expect((await store.getRegistration(id))?.version).toBe(0);
    }
    expect(await replayRegistration(store, dispatcher, 'missing', { actor: 'a' })).toMatchObject({ replayed: false, notFound: true });
    const forced = await replayRegistration(store, dispatcher, 'no', { actor: 'a', force: true });
    expect(forced).toMatchObject({ replayed: true, stage: 'verify' });
    expect(await store.getRegistration('no')).toMatchObject({ status: 'received', outcome: null, generation: 1 });
  });

  it('bulk: pages through records sharing a timestamp without losing any, and a dry run changes nothing', async () => {
    const at = '2026-03-01T10:00:00.000Z';
    for (let i = 0; i < 7; i++) await store.insertRegistration(failedIn(`same${i}`, 'verify', at), []);
    await store.insertRegistration(failedIn('older', 'verify', '2026-03-01T09:00:00.000Z'), []);
    await store.insertRegistration(registration('done', 'registered', at), []);
    const seen: string[] = [];
    for await (const r of matchingRegistrations(store, { status: 'failed' }, 3)) seen.push(r.id);
    expect(seen.sort()).toEqual(['older', ...Array.from({ length: 7 }, (_, i) => `same${i}`)].sort());

    const dry = await replayMatching(store, dispatcher, {}, { actor: 'a', dryRun: true });
    expect(dry).toMatchObject({ matched: 8, replayed: 8, skipped: 0, dryRun: true });
    expect((await store.countRegistrationsByStatus()).failed).toBe(8);

    const done = await replayMatching(store, dispatcher, { since: '2026-03-01T09:30:00.000Z' }, { actor: 'a' });
    expect(done).toMatchObject({ matched: 7, replayed: 7, skipped: 0 });
    expect((await store.countRegistrationsByStatus()).failed).toBe(1);
  });

  it('metrics: stage counters, gauges from the store and queue, on a registry of its own', async () => {
    await store.insertRegistration(failedIn('r1', 'verify'), []);
    const metrics = new PipelineMetrics({ store, queue }, { service: 'test', defaultMetrics: false });
    metrics.observeStage('verify', 'failed', 0.2);
    await replayRegistration(store, dispatcher, 'r1', { actor: 'a' });
    const { body, contentType } = await metrics.render();
    expect(contentType).toContain('text/plain');
    expect(body).toContain('dcr_stage_jobs_total{stage="verify",outcome="failed",service="test"} 1');
    expect(body).toContain('dcr_stage_jobs_total{stage="provision",outcome="advanced",service="test"} 0');
    expect(body).toContain('dcr_registrations{status="received",service="test"} 1');
    expect(body).toContain('dcr_queue_jobs{stage="verify",state="waiting",service="test"} 1');
    expect(body).toContain('dcr_outbox_pending{service="test"} 1');
    const other = new PipelineMetrics({ store, queue }, { defaultMetrics: false });
    expect(await other.registry.getSingleMetricAsString('dcr_stage_jobs_total')).toContain('outcome="failed"} 0');
  });
});
