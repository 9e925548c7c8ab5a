/**
 * Issue 20 investigation (not part of npm test): what a mongo-java-server (H2 file backend) restart
 * changes for our MongoDB store. Starts the server (testkit/servers.ts), opens MongoStore (which
 * creates its indexes at connect), writes N registration-shaped documents, then lists the indexes and
 * times the queries the pipeline makes (by submissionKey, by status, the outbox scan), SIGKILLs and
 * restarts the server on the same file and does the same again, with a command monitor counting the
 * commands our driver sends. Prints JSON.  npx tsx bench/mongo-restart-probe.ts [N]
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { startInfra } from '../testkit/servers.js';

const n = Number(process.argv[2] ?? 3000);
const infra = await startInfra({ mongo: { backend: 'h2' } });
const url = `${(infra.mongoUrl as string).replace(/\/$/, '')}/dcr_probe`;
const result: Record<string, unknown> = { documents: n };
try {
  const { MongoStore } = await import('../platform/adapters/mongo/mongo-store.js');
  const store = await MongoStore.connect(url, 'probe');
  await store.close();
  const client = new MongoClient(url, { monitorCommands: true, retryWrites: false });
  await client.connect();
  const regs = client.db().collection<{ _id: string; submissionKey: string; status: string; updatedAt: string; outbox?: Array<{ id: string }> }>('probe_registrations');
  const keys: string[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      const key = randomBytes(16).toString('base64url');
      keys.push(key);
      batch.push({ _id: `r${j}`, submissionKey: key, status: j % 10 === 0 ? 'verifying' : 'registered', updatedAt: new Date().toISOString(), padding: 'x'.repeat(2000), ...(j % 50 === 0 ? { outbox: [{ id: `o${j}` }] } : {}) });
    }
    await regs.insertMany(batch);
  }
  type Regs = typeof regs;
  /** CPU seconds the mongo-java-server process has used so far (/proc/<pid>/stat utime + stime, 100 ticks/s). */
  const mongoCpu = (): number => {
    const pid = infra.server('mongo').pid;
    if (pid === undefined) return Number.NaN;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const measure = async (label: string, c: Regs) => {
    const cpuBefore = mongoCpu();
    const indexes = (await c.listIndexes().toArray()).map((i) => i.name as string);
    const time = async (what: string, f: () => Promise<unknown>, times = 50) => {
      const t = performance.now();
      for (let i = 0; i < times; i++) await f();
      return [what, Math.round(((performance.now() - t) / times) * 100) / 100] as const;
    };
    const timings = Object.fromEntries([
      await time('findOne by submissionKey (ms)', () => c.findOne({ submissionKey: keys[Math.floor(Math.random() * keys.length)] as string })),
      await time('findOne by _id (ms)', () => c.findOne({ _id: `r${Math.floor(Math.random() * n)}` })),
      await time('find status=verifying limit 100 (ms)', () => c.find({ status: 'verifying' }).limit(100).toArray(), 10),
      await time('updateOne by _id, $set + $push (ms; the server commits the MVStore after it)', () => {
        const id = `r${Math.floor(Math.random() * n)}`;
        return c.updateOne({ _id: id }, { $set: { updatedAt: new Date().toISOString() }, $push: { history: { at: Date.now(), padding: 'y'.repeat(500) } } } as never);
      }),
      await time('insertOne 2 kB (ms)', () => c.insertOne({ _id: `x${randomBytes(8).toString('hex')}`, submissionKey: randomBytes(16).toString('base64url'), status: 'received', updatedAt: new Date().toISOString(), padding: 'z'.repeat(2000) } as never)),
      await time("outbox scan {'outbox.id': {$exists: true}} (ms)", () => c.find({ 'outbox.id': { $exists: true } }).limit(100).toArray(), 10),
    ]);
    const file = join(infra.mongo?.dataDir ?? '', 'mongo.mv');
    // The server's CPU for the same fixed mix of operations: whether it works harder per operation after the reopen.
    const serverCpuSeconds = Math.round((mongoCpu() - cpuBefore) * 100) / 100;
    result[label] = { indexes, count: await c.countDocuments(), mvFileBytes: existsSync(file) ? statSync(file).size : null, serverCpuSeconds, timings };
  };
  result.dataDirFiles = readdirSync(infra.mongo?.dataDir ?? '.');
  await measure('beforeRestart', regs);
  await client.close();
  const tRestart = performance.now();
  await infra.server('mongo').restart('SIGKILL');
  result.restartMs = Math.round(performance.now() - tRestart);
  const after = new MongoClient(url, { retryWrites: false });
  await after.connect();
  await measure('afterRestart', after.db().collection('probe_registrations') as unknown as Regs);
  // What a service that reconnects (or restarts) does: MongoStore.connect creates the indexes again.
  const again = await MongoStore.connect(url, 'probe');
  await again.close();
  await measure('afterRestartAndStoreConnect', after.db().collection('probe_registrations') as unknown as Regs);
  await after.close();
} finally {
  await infra.stop();
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
