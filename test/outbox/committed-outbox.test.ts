/**
 * Issue 21: in the embedded set the store, the work queue and the event log are tables of one SQLite
 * file, so a change's job and events are written into the queue and the log in the change's own
 * transaction (platform/adapters/embedded/committed-outbox.ts): nothing waits in the outbox, nothing
 * is relayed, and a change that is refused writes neither.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { registrationEvent, stageJob } from '../../core/domain/events.js';
import type { Registration } from '../../core/domain/registration.js';
import { JobDispatcher } from '../../core/outbox/job-dispatcher.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import type { StageJobData } from '../../core/ports/queue.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteEventBus } from '../../platform/adapters/embedded/sqlite-event-bus.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { openAdapters } from '../../platform/runtime/adapters.js';
import { loadConfig } from '../../platform/config/load.js';
import { aRegistration } from '../support/registration.js';

let dir: string;
let db: EmbeddedDatabase;
let queue: SqliteQueue;
let bus: SqliteEventBus;
let store: SqliteStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dcr-committed-'));
  db = openEmbeddedDatabase(dir);
  queue = new SqliteQueue(db, { attempts: 3, baseDelayMs: 10 });
  bus = new SqliteEventBus(db, { source: 'urn:dcr:test' });
  store = new SqliteStore(db, { committed: { jobs: queue, events: bus } });
});
afterEach(async () => {
  await queue.close();
  await bus.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const rows = (sql: string): unknown[] => db.sqlite.prepare(sql).all();

it('a change commits its job into the queue and its event into the log, and leaves the outbox empty', async () => {
  expect(store.outboxDelivery).toBe('committed');
  const r = aRegistration('r-committed');
  const received = registrationEvent('dcr.registration.received', r, new Date());
  const job = stageJob('verify', r.id, 0, new Date());
  await store.insertRegistration(r, [received, job]);

  expect(await store.pendingOutbox(100)).toEqual([]);
  expect(rows('SELECT id FROM outbox')).toEqual([]);
  expect(await queue.counts('verify')).toEqual({ waiting: 1, active: 0, delayed: 0 });
  expect(rows('SELECT id, topic, key FROM events')).toEqual([{ id: received.id, topic: received.topic, key: r.id }]);
  expect(await store.outboxPending('registration', r.id, received.id)).toBe(false);

  // The job is the one the stage consumes, with the data the change gave it.
  const handled: StageJobData[] = [];
  let done!: () => void;
  const consumed = new Promise<void>((resolve) => (done = resolve));
  const consumer = queue.consume('verify', async (data) => {
    handled.push(data);
    done();
  }, { concurrency: 1 });
  await consumed;
  await consumer.close();
  expect(handled).toEqual([{ requestId: r.id, generation: 0 }]);
});

it('an event committed with a change reaches a consumer of the log, once, as a CloudEvent', async () => {
  const r = aRegistration('r-event');
  const received = registrationEvent('dcr.registration.received', r, new Date());
  const seen: DeliveredEvent[] = [];
  let done!: () => void;
  const delivered = new Promise<void>((resolve) => (done = resolve));
  const subscription = await bus.subscribe({ groupId: 'g', topics: [received.topic as DeliveredEvent['topic']], fromBeginning: true }, async (event) => {
    seen.push(event);
    done();
  });
  await store.insertRegistration(r, [received]);
  await delivered;
  await subscription.close();
  expect(seen.map((e) => [e.id, e.type, e.source, e.subject])).toEqual([[received.id, 'dcr.registration.received', 'urn:dcr:test', r.id]]);
});

it('a refused change (a stale version) writes neither its job nor its event', async () => {
  const r = aRegistration('r-refused');
  await store.insertRegistration(r, []);
  const moved = (await store.updateRegistration(r, { set: { status: 'verifying' } })) as Registration;
  expect(moved).not.toBeNull();
  const lost = registrationEvent('dcr.registration.rejected', { ...r, status: 'rejected' }, new Date());
  expect(await store.updateRegistration(r, { set: { status: 'rejected' }, outbox: [lost, stageJob('revocation', r.id, 0, new Date())] })).toBeNull();
  expect(rows('SELECT id FROM events')).toEqual([]);
  expect(await queue.counts('revocation')).toEqual({ waiting: 0, active: 0, delayed: 0 });
});

it('the job dispatcher hands nothing over for a committing store (the job is already queued, once)', async () => {
  const r = aRegistration('r-dispatch');
  const job = stageJob('verify', r.id, 0, new Date());
  await store.insertRegistration(r, [job]);
  const warnings: object[] = [];
  const logger = { info: () => {}, warn: (obj: object) => warnings.push(obj), error: () => {} };
  await new JobDispatcher(store, queue, logger).dispatch(r.id, [job]);
  expect(warnings).toEqual([]);
  expect(rows("SELECT id, state FROM jobs WHERE stage = 'verify'")).toEqual([{ id: job.id, state: 'waiting' }]);
});

it('the runtime opens the embedded set as one committing store; a store on its own keeps the outbox', async () => {
  const other = mkdtempSync(join(tmpdir(), 'dcr-committed-rt-'));
  try {
    const config = loadConfig({ DCR_DATA_DIR: other, DCR_SANDBOX: '1' }, { sandboxByDefault: true });
    const adapters = await openAdapters(config, 'test');
    expect(adapters.store.outboxDelivery).toBe('committed');
    await adapters.close();
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
  const alone = new SqliteStore(db);
  expect(alone.outboxDelivery).toBeUndefined();
  const r = aRegistration('r-alone');
  await alone.insertRegistration(r, [stageJob('verify', r.id, 0, new Date())]);
  expect((await alone.pendingOutbox(10)).map((p) => p.entry.id)).toEqual([`${r.id}.verify.0`]);
});

it('stage fusion: a job for a stage this process consumes is written already claimed by it and run at once; a crash gives it back at start-up', async () => {
  let entered!: (data: StageJobData & { attempt: number }) => void;
  const first = new Promise<StageJobData & { attempt: number }>((resolve) => (entered = resolve));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const consumer = queue.consume('revocation', async (data, ctx) => {
    entered({ ...data, attempt: ctx.attempt });
    await held;
  }, { concurrency: 2 });
  const r = aRegistration('r-fused');
  await store.insertRegistration(r, []);
  const job = stageJob('revocation', r.id, 0, new Date());
  expect(await store.updateRegistration(r, { set: { status: 'checking_revocation' }, outbox: [job] })).not.toBeNull();
  // Claimed in the change's own transaction: active, first attempt, this process's handler has it.
  expect(rows(`SELECT id, state, attempts_made FROM jobs WHERE id = '${job.id}'`)).toEqual([{ id: job.id, state: 'active', attempts_made: 1 }]);
  expect(await first).toEqual({ requestId: r.id, generation: 0, attempt: 1 });

  // The process dies with the job running: the database is closed under it, then opened again.
  await db.close();
  db = openEmbeddedDatabase(dir);
  const restarted = new SqliteQueue(db, { attempts: 3, baseDelayMs: 10 });
  expect(await restarted.counts('revocation')).toEqual({ waiting: 1, active: 0, delayed: 0 });
  let again!: (attempt: number) => void;
  const second = new Promise<number>((resolve) => (again = resolve));
  const after = restarted.consume('revocation', async (_data, ctx) => again(ctx.attempt), { concurrency: 1 });
  expect(await second).toBe(2);
  await after.close();
  await restarted.close();
  release();
  await consumer.close().catch(() => {});
  queue = restarted;
  bus = new SqliteEventBus(db, { source: 'urn:dcr:test' });
});

it('a stage transition that ends its job deletes the job row in the same transaction; a refused one deletes nothing', async () => {
  const r = aRegistration('r-completes');
  const job = stageJob('verify', r.id, 0, new Date());
  await store.insertRegistration(r, [job]);
  const stale = r;
  const moved = (await store.updateRegistration(r, { set: { status: 'verifying' } })) as Registration;
  expect(await store.updateRegistration(stale, { set: { status: 'rejected' }, completesJob: job.id })).toBeNull();
  expect(rows(`SELECT id FROM jobs WHERE id = '${job.id}'`)).toEqual([{ id: job.id }]);
  expect(await store.updateRegistration(moved, { set: { status: 'checking_revocation' }, completesJob: job.id })).not.toBeNull();
  expect(rows(`SELECT id FROM jobs WHERE id = '${job.id}'`)).toEqual([]);
});
