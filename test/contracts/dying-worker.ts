/**
 * A stage worker in a process of its own, for the WorkQueue contract's "the worker dies" case:
 * opens the queue the arguments name, consumes `verify`, prints `claimed <jobId>` when a job reaches
 * its handler and never finishes it (the test kills this process then).
 * Usage: node --import tsx dying-worker.ts embedded <dataDir> | distributed <redisUrl> <namespace> <leaseMs>
 */
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { BullMqQueue } from '../../platform/adapters/bullmq/bullmq-queue.js';
import type { WorkQueue } from '../../core/ports/queue.js';

const [backend, a, b, c] = process.argv.slice(2);
const policy = { attempts: 3, baseDelayMs: 10 };
let queue: WorkQueue;
if (backend === 'embedded' && a) queue = new SqliteQueue(openEmbeddedDatabase(a), policy);
else if (backend === 'distributed' && a && b && c) queue = new BullMqQueue({ redisUrl: a, namespace: b, policy, leaseMs: Number(c) });
else throw new Error('usage: dying-worker.ts embedded <dataDir> | distributed <redisUrl> <namespace> <leaseMs>');

queue.consume(
  'verify',
  async (_data, context) => {
    process.stdout.write(`claimed ${context.jobId}\n`);
    await new Promise<never>(() => {});
  },
  { concurrency: 1 },
);
process.stdout.write('consuming\n');
