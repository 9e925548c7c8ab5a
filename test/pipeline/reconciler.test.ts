/**
 * Issue 20: the reconciler finds a registration stranded in a stage by lost queue data (the BullMQ
 * keys deleted, as after a Redis restart without AOF; the embedded job rows deleted) and queues its
 * job again from the stored state, recording that in its history; the request then registers.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Reconciler } from '../../core/pipeline/reconciler.js';
import type { Store } from '../../core/ports/store.js';
import { startProvisioner } from '../../services/provisioner/service.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(adapterSets)('the reconciler, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;

  beforeAll(async () => {
    if (skip) return;
    // No stages yet, and no periodic sweep: the test runs one when it has stranded a request.
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), stages: false, env: { DCR_RECONCILE_INTERVAL_MS: '0' } });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** Deletes every queued job behind the pipeline's back, as lost queue data. */
  async function loseQueueData(): Promise<void> {
    if (infraUrls) {
      const redis = new Redis(infraUrls.redisUrl);
      try {
        const keys = await redis.keys(`dcr:${pipeline.env.DCR_NAMESPACE}:*`);
        expect(keys.length).toBeGreaterThan(0);
        await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
      return;
    }
    // No busy wait inside this (synchronous) connection: the pipeline's own connection, in this
    // process, must be able to finish its open group-commit batch between our tries.
    const db = new Database(join(pipeline.dataDir, 'dcr.sqlite'), { timeout: 0 });
    const attempt = <T>(run: () => T): T | undefined => {
      try {
        return run();
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_BUSY') return undefined;
        throw error;
      }
    };
    try {
      // The job row joins the next group commit; wait until it is there, then drop it.
      await until('the verify job is stored', () => attempt(() => (db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE stage = 'verify'").get() as { n: number }).n), (n) => n === 1);
      await until('the jobs are deleted', () => attempt(() => db.prepare('DELETE FROM jobs').run().changes), (n) => n !== undefined && n >= 1);
    } finally {
      db.close();
    }
  }

  it.skipIf(skip)('a request whose job was lost is queued again, registers, and its history says so; a second sweep finds nothing', async () => {
    const { rt } = pipeline;
    const tpp = await pipeline.createTpp('stranded');
    const res = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const { request_id: requestId } = res.json<{ request_id: string }>();
    await loseQueueData();
    expect((await rt.adapters.queue.counts('verify')).waiting).toBe(0);

    const stages = [await startVerifier(rt), startRevocation(rt), await startProvisioner(rt)];
    try {
      // Nothing moves it on: it has no job, and its outbox entry was published.
      expect((await rt.adapters.store.getRegistration(requestId))?.status).toBe('received');
      expect(rt.reconciler).not.toBeNull();
      // A sweep now looks only at requests unchanged for DCR_RECONCILE_AFTER_MS: this one is too young.
      expect(await rt.reconciler!.sweepOnce()).toMatchObject({ revived: 0 });
      const later = new Date(Date.now() + rt.config.reconcile.afterMs + 1000);
      expect(await rt.reconciler!.sweepOnce(later)).toMatchObject({ revived: 1 });
      const registered = await until('registered', () => rt.adapters.store.getRegistration(requestId), (r) => r?.status === 'registered');
      expect(registered?.history.filter((h) => h.event === 'reconciled')).toEqual([
        expect.objectContaining({ stage: 'verify', actor: 'reconciler', detail: expect.stringContaining(`${requestId}.verify.0`) }),
      ]);
      const poll = await tpp.get(`/register/requests/${requestId}`);
      expect(poll.json()).toMatchObject({ status: 'registered', client_id: registered?.clientId });
      expect(await rt.reconciler!.sweepOnce(new Date(Date.now() + rt.config.reconcile.afterMs + 1000))).toMatchObject({ revived: 0 });
    } finally {
      await Promise.all(stages.map((s) => s.stop()));
    }
  });

  it.skipIf(skip)('a request that moved on after the sweep listed it is not queued again (its job completed, it was not lost)', async () => {
    const { rt } = pipeline;
    const tpp = await pipeline.createTpp('moved-on');
    const res = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const { request_id: requestId } = res.json<{ request_id: string }>();
    await loseQueueData();
    // The real store, except that the moment the sweep has read its list the request is written
    // again, as a stage committing its transition then would (its job is then gone: completed).
    const store = rt.adapters.store;
    const racing = new Proxy(store, {
      get(target, key, receiver) {
        if (key !== 'listRegistrations') return Reflect.get(target, key, receiver);
        return async (...args: Parameters<Store['listRegistrations']>) => {
          const listed = await target.listRegistrations(...args);
          for (const r of listed.filter((x) => x.id === requestId)) {
            await target.updateRegistration(r, { set: { updatedAt: new Date().toISOString() }, history: [{ at: new Date().toISOString(), event: 'verified', stage: 'verify', actor: 'test' }] });
          }
          return listed;
        };
      },
    }) as Store;
    const reconciler = new Reconciler(racing, rt.adapters.queue, rt.logger, { owner: 'race-test', leaseName: 'reconciler-race-test', afterMs: rt.config.reconcile.afterMs });
    const later = new Date(Date.now() + rt.config.reconcile.afterMs + 1000);
    expect(await reconciler.sweepOnce(later)).toMatchObject({ revived: 0 });
    expect((await rt.adapters.queue.counts('verify')).waiting).toBe(0);
    expect((await store.getRegistration(requestId))?.history.filter((h) => h.event === 'reconciled')).toEqual([]);
    // Unchanged since the list (the same store without the race): it is stranded, and revived.
    expect(await new Reconciler(store, rt.adapters.queue, rt.logger, { owner: 'race-test', leaseName: 'reconciler-race-test', afterMs: rt.config.reconcile.afterMs }).sweepOnce(later)).toMatchObject({ revived: 1 });
    expect((await rt.adapters.queue.counts('verify')).waiting).toBe(1);
  });
});
