/**
 * Found by the chaos suite (a MongoDB outage longer than a stage's retry window): when a stage job's
 * LAST attempt throws, the handler could not record the outcome (the store was unreachable), so the
 * queue must not drop the job, or the registration stays in its stage for good (not `failed`, hence not
 * replayable). The BullMQ adapter keeps such a job and runs the last attempt again later.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { BullMqQueue } from '../../platform/adapters/bullmq/bullmq-queue.js';
import type { JobContext } from '../../core/ports/queue.js';

const infra = inject('infra');

describe.skipIf(!infra)('BullMQ queue: a last attempt that throws is kept, not dropped', () => {
  const namespace = `l${randomBytes(4).toString('hex')}`;
  const queues: BullMqQueue[] = [];
  afterAll(async () => {
    await Promise.all(queues.map((q) => q.close()));
  });

  it('runs the last attempt again until the handler returns, and never fails the job', async () => {
    const queue = new BullMqQueue({ redisUrl: infra!.redisUrl, namespace, policy: { attempts: 2, baseDelayMs: 10 } });
    queues.push(queue);
    const calls: JobContext[] = [];
    let completed!: () => void;
    const done = new Promise<void>((resolve) => (completed = resolve));
    const consumer = queue.consume(
      'verify',
      async (_data, context) => {
        calls.push(context);
        // the store is "down" for the first five deliveries: the handler cannot record anything
        if (calls.length <= 5) throw new Error('MongoServerSelectionError: connect ECONNREFUSED');
        completed();
      },
      { concurrency: 1 },
    );
    try {
      await queue.enqueue('verify', 'req-1.verify.0', { requestId: 'req-1', generation: 0 });
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`handler not called a 6th time; calls: ${JSON.stringify(calls)}`)), 20_000))]);
      expect(calls.map((c) => c.attempt)).toEqual([1, 2, 2, 2, 2, 2]);
      expect(calls.every((c) => c.maxAttempts === 2)).toBe(true);
      const u = new URL(infra!.redisUrl);
      const raw = new Queue('verify', { connection: { host: u.hostname, port: Number(u.port) }, prefix: `dcr:${namespace}` });
      try {
        // the job completes once the handler returned (polled, bounded)
        const deadline = Date.now() + 10_000;
        let counts = await raw.getJobCounts('failed', 'completed', 'delayed', 'waiting', 'active');
        while (counts.completed !== 1 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          counts = await raw.getJobCounts('failed', 'completed', 'delayed', 'waiting', 'active');
        }
        expect(counts).toMatchObject({ failed: 0, completed: 1, delayed: 0, waiting: 0 });
      } finally {
        await raw.close();
      }
    } finally {
      await consumer.close();
    }
  }, 40_000);
});
