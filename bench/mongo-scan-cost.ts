/**
 * Issue 20 (not part of npm test): mongo-java-server's CPU per store query as the registrations
 * collection grows, no restart. mongo-java-server 1.47 implements unique indexes only ("adding
 * secondary index with keys … is not yet implemented. ignoring" in its log, one line per non-unique
 * index MongoStore creates), so every query on another field reads the whole collection. Starts the
 * server (H2 file backend, testkit/servers.ts), opens MongoStore, and at each size runs the store's own
 * queries: `getRegistration` (by `_id`: the unique index), `pendingOutbox` (the relay's poll: a scan of
 * registrations and of clients), `countInFlight` (the intake's per-TPP quota: a scan). Prints JSON.
 *   npx tsx bench/mongo-scan-cost.ts [SIZES, default 250,1000,2000,3000] [REPEATS, default 100]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';
import { startInfra } from '../testkit/servers.js';
import { MongoStore } from '../platform/adapters/mongo/mongo-store.js';

const sizes = (process.argv[2] ?? '250,1000,2000,3000').split(',').map(Number);
const repeats = Number(process.argv[3] ?? 100);
const infra = await startInfra({ mongo: { backend: 'h2' } });
const url = `${(infra.mongoUrl as string).replace(/\/$/, '')}/dcr_scan`;
const mongoCpu = (): number => {
  const pid = infra.server('mongo').pid;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rows: Record<string, unknown>[] = [];
try {
  const store = await MongoStore.connect(url, 'scan');
  const client = new MongoClient(url, { retryWrites: false });
  await client.connect();
  const regs = client.db().collection<Record<string, unknown> & { _id: string }>('scan_registrations');
  let have = 0;
  for (const size of sizes) {
    while (have < size) {
      const batch = [];
      for (; have < size && batch.length < 250; have++) {
        // about the size of a registered request in the chaos run (≈ 12 kB per find-by-id reply there)
        batch.push({
          _id: `r${have}`,
          submissionKey: randomBytes(16).toString('base64url'),
          status: 'registered',
          certificate: { tppIdentity: `CN=tpp${have % 50}` },
          updatedAt: new Date(Date.now() + have).toISOString(),
          submittedAt: new Date(Date.now() + have).toISOString(),
          body: randomBytes(4500).toString('base64'),
          history: [],
          version: 5,
          outbox: [],
        });
      }
      await regs.insertMany(batch);
    }
    const cost = async (f: () => Promise<unknown>) => {
      await f();
      const c0 = mongoCpu();
      for (let i = 0; i < repeats; i++) await f();
      return Math.round(((mongoCpu() - c0) * 1000 * 100) / repeats) / 100;
    };
    rows.push({
      documents: size,
      cpuMsPerCall: {
        getRegistration: await cost(() => store.getRegistration(`r${Math.floor(Math.random() * size)}`)),
        pendingOutbox: await cost(() => store.pendingOutbox(100)),
        countInFlight: await cost(() => store.countInFlight('CN=tpp7')),
      },
    });
    process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
  }
  await client.close();
  await store.close();
} finally {
  await infra.stop();
}
process.stdout.write(`${JSON.stringify({ server: 'mongo-java-server 1.47, H2 file backend', repeats, rows }, null, 2)}\n`);
