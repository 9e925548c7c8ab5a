/**
 * The embedded twin of bullmq-last-attempt.test.ts: when a stage job's LAST attempt throws, the
 * handler could not record the outcome, so the queue keeps the job and runs the last attempt again
 * later instead of dropping it (which would strand the registration in its stage).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import type { JobContext } from '../../core/ports/queue.js';

describe('embedded queue: a last attempt that throws is kept, not dropped', () => {
  it('runs the last attempt again until the handler returns, then removes the job', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-last-attempt-'));
    const db = openEmbeddedDatabase(dir);
    const queue = new SqliteQueue(db, { attempts: 2, baseDelayMs: 5 });
    const calls: JobContext[] = [];
    let completed!: () => void;
    const done = new Promise<void>((resolve) => (completed = resolve));
    const consumer = queue.consume(
      'verify',
      async (_data, context) => {
        calls.push(context);
        if (calls.length <= 5) throw new Error('SQLITE_BUSY: database is locked');
        completed();
      },
      { concurrency: 1 },
    );
    try {
      await queue.enqueue('verify', 'req-1.verify.0', { requestId: 'req-1', generation: 0 });
      await done;
      expect(calls.map((c) => c.attempt)).toEqual([1, 2, 2, 2, 2, 2]);
      expect(calls.every((c) => c.maxAttempts === 2)).toBe(true);
      const deadline = Date.now() + 10_000;
      let counts = await queue.counts('verify');
      while ((counts.waiting + counts.active + counts.delayed > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        counts = await queue.counts('verify');
      }
      expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0 });
      expect(db.sqlite.prepare('SELECT COUNT(*) AS n FROM jobs').get()).toEqual({ n: 0 });
    } finally {
      await consumer.close();
      await queue.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
