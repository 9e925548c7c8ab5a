/**
 * The WorkQueue port (core/ports/queue.ts) over the embedded SQLite queue and BullMQ on Redis:
 * at-least-once delivery (a handler that throws is retried), a job whose worker died is delivered
 * again (the embedded queue at the next start, BullMQ once the dead worker's lease lapses: the
 * smallest `DCR_QUEUE_LEASE_MS`, 2 s), a last attempt that throws is kept rather than dropped,
 * `revive` (the reconciler's repair) and dedup by job id.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobContext, StageConsumer, StageJobData, WorkQueue } from '../../core/ports/queue.js';
import { BullMqQueue } from '../../platform/adapters/bullmq/bullmq-queue.js';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { runContract, until, type Factory, type TempPlace } from './backends.js';

/** Retries quick enough for a test: attempt n waits ≈ 10 ms × 2^(n-1). */
const POLICY = { attempts: 3, baseDelayMs: 10 };
/** The smallest lease DCR_QUEUE_LEASE_MS allows: a dead BullMQ worker's job is back within ≈ 3 s. */
const LEASE_MS = 2000;

interface Opened {
  queue: WorkQueue;
  close(): Promise<void>;
  /** The arguments of dying-worker.ts that open the same queue in another process. */
  workerArgs: string[];
}

const WORKER = fileURLToPath(new URL('./dying-worker.ts', import.meta.url));

/** Delivers to `seen`; `fail(n)` says whether the n-th delivery (1-based) throws. */
function recorder(queue: WorkQueue, fail: (n: number, data: StageJobData) => boolean = () => false) {
  const seen: Array<StageJobData & JobContext> = [];
  const consumer: StageConsumer = queue.consume(
    'verify',
    async (data, context) => {
      seen.push({ ...data, ...context });
      if (fail(seen.length, data)) throw new Error(`delivery ${seen.length} fails`);
    },
    { concurrency: 1 },
  );
  return { seen, consumer };
}

const drained = async (queue: WorkQueue) => until('the queue is drained', () => queue.counts('verify'), (c) => c.waiting + c.active + c.delayed === 0);

export function queueContract(open: Factory<Opened>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  let opened: Opened | undefined;
  const consumers: StageConsumer[] = [];

  beforeEach(async () => {
    place = await fresh();
    opened = await open(place);
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.close()));
    await opened?.close();
    opened = undefined;
    await place.release();
  });
  const queue = () => (opened as Opened).queue;
  const consume = (fail?: (n: number, data: StageJobData) => boolean) => {
    const r = recorder(queue(), fail);
    consumers.push(r.consumer);
    return r.seen;
  };

  it('delivers at least once: a handler that throws gets the job again, with its attempt number, until it returns', async () => {
    await queue().enqueue('verify', 'req-1.verify.0', { requestId: 'req-1', generation: 0 });
    const seen = consume((n) => n === 1);
    await until('the retry', () => seen.length, (n) => n >= 2);
    expect(seen.map(({ jobId, requestId, generation, attempt, maxAttempts }) => ({ jobId, requestId, generation, attempt, maxAttempts }))).toEqual([
      { jobId: 'req-1.verify.0', requestId: 'req-1', generation: 0, attempt: 1, maxAttempts: POLICY.attempts },
      { jobId: 'req-1.verify.0', requestId: 'req-1', generation: 0, attempt: 2, maxAttempts: POLICY.attempts },
    ]);
    await drained(queue());
    expect(seen).toHaveLength(2);
  });

  it('keeps a job whose last attempt throws (the handler could not record the outcome) and runs that attempt again until it returns', async () => {
    await queue().enqueue('verify', 'req-last.verify.0', { requestId: 'req-last', generation: 0 });
    // The store is "down" for the first five deliveries: the handler cannot record anything.
    const seen = consume((n) => n <= 5);
    await until('the sixth delivery', () => seen.length, (n) => n >= 6);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3, 3, 3, 3]);
    await drained(queue());
    expect(seen).toHaveLength(6);
  });

  it('dedups by job id: a job id already queued is not queued twice', async () => {
    await queue().enqueue('verify', 'req-d.verify.0', { requestId: 'req-d', generation: 0 });
    await queue().enqueue('verify', 'req-d.verify.0', { requestId: 'req-d', generation: 0 });
    await queue().enqueue('verify', 'req-d.verify.1', { requestId: 'req-d', generation: 1 });
    expect(await queue().counts('verify')).toEqual({ waiting: 2, active: 0, delayed: 0 });
    const seen = consume();
    await until('both jobs', () => seen.length, (n) => n >= 2);
    await drained(queue());
    expect(seen.map((s) => s.jobId).sort()).toEqual(['req-d.verify.0', 'req-d.verify.1']);
  });

  it("revive: a queued job is 'live' and not queued again; a job no longer queued is 'revived' and delivered again", async () => {
    const data = { requestId: 'req-r', generation: 0 };
    await queue().enqueue('verify', 'req-r.verify.0', data);
    expect(await queue().revive('verify', 'req-r.verify.0', data)).toBe('live');
    expect(await queue().counts('verify')).toEqual({ waiting: 1, active: 0, delayed: 0 });
    const seen = consume();
    await until('the job', () => seen.length, (n) => n >= 1);
    await drained(queue());
    // Done (or lost with the queue's data) while its request never moved on: the reconciler's case.
    expect(await queue().revive('verify', 'req-r.verify.0', data)).toBe('revived');
    await until('the revived job', () => seen.length, (n) => n >= 2);
    expect(seen.map((s) => s.jobId)).toEqual(['req-r.verify.0', 'req-r.verify.0']);
  });

  it('a job whose worker process died is delivered again', async () => {
    const data = { requestId: 'req-k', generation: 0 };
    await queue().enqueue('verify', 'req-k.verify.0', data);
    const args = (opened as Opened).workerArgs;
    // The embedded data directory belongs to one process at a time: hand it to the worker.
    if (args[0] === 'embedded') {
      await opened?.close();
      opened = undefined;
    }
    const worker = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: worker.stdout });
      for await (const line of lines) if (line === 'claimed req-k.verify.0') break;
    } finally {
      worker.kill('SIGKILL');
      if (worker.exitCode === null && worker.signalCode === null) await once(worker, 'exit');
    }
    opened ??= await open(place);
    const seen = consume();
    await until('the job of the dead worker', () => seen.length, (n) => n >= 1, 15_000);
    expect(seen[0]).toMatchObject({ jobId: 'req-k.verify.0', ...data });
    await drained(queue());
  }, 30_000);
}

runContract<Opened>(
  'WorkQueue',
  {
    embedded: async (place) => {
      const db = openEmbeddedDatabase(place.dataDir);
      const queue = new SqliteQueue(db, POLICY);
      return {
        queue,
        close: async () => {
          await queue.close();
          await db.close();
        },
        workerArgs: ['embedded', place.dataDir],
      };
    },
    distributed: (infra) => async (place) => {
      const queue = new BullMqQueue({ redisUrl: infra.redisUrl, namespace: place.namespace, policy: POLICY, leaseMs: LEASE_MS });
      return { queue, close: () => queue.close(), workerArgs: ['distributed', infra.redisUrl, place.namespace, String(LEASE_MS)] };
    },
  },
  'BullMQ on Redis',
  queueContract,
);
