/**
 * `npm run bench:statements [-- N]` (tsx bench/count-statements.ts): how many SQLite statement calls
 * one registration costs the embedded pipeline, by kind. Wraps better-sqlite3's statement calls
 * (Statement run/get/all/iterate — which includes the BEGIN/COMMIT/SAVEPOINT/RELEASE that
 * `db.transaction` runs — and Database exec/prepare) in this process, starts the benchmark's
 * embedded pipeline (bench/pipeline.ts: the sandbox directory in its own process), registers a few
 * to warm up, then counts while N registrations go through one at a time and then N (at least 64)
 * at 16 in flight (a fresh mTLS connection each), each window ending when every registration is
 * `registered` and the outbox is drained. What the pipeline's timers do meanwhile (queue wakes, the
 * relay) is counted too: it is part of what a registration costs. The WAL checkpointer's worker
 * thread has its own connection and is not counted (it is off the event loop).
 * Prints per-registration counts by statement and totals by kind; `--json <file>` writes them.
 */
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { httpsRequest } from '../sandbox/tpp-client/https-client.js';
import { createTpps, signedRequests, type BenchTpps } from './fixtures.js';
import { startEmbeddedPipeline, type EmbeddedPipeline } from './pipeline.js';
import type { PreparedRequest } from './load-generator.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const positional = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
const N = Number.parseInt(positional[0] ?? '40', 10);
const N16 = Math.max(64, N);

// ---------------------------------------------------------------- the wrapping

const counts = new Map<string, number>();
let counting = false;
const count = (method: string, sql: string, file: string | undefined) => {
  if (!counting) return;
  // the sandbox AS (sandbox-as.sqlite) runs in this process too: its statements are named apart
  const key = `${method} ${file?.endsWith('sandbox-as.sqlite') ? '[sandbox AS] ' : ''}${normalise(sql)}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
};
/** One line per statement text: whitespace collapsed, long texts cut, the savepoint name of better-sqlite3 shown plainly. */
function normalise(sql: string): string {
  const s = sql.replace(/`\t_bs3\.\t`/g, 'bs3').replace(/\s+/g, ' ').trim();
  return s.length > 110 ? `${s.slice(0, 107)}...` : s;
}
function kindOf(key: string): string {
  const [method, ...words] = key.split(' ');
  const sandbox = words[0] === '[sandbox' ? 'sandbox AS ' : '';
  const [verb = '', second = ''] = sandbox ? words.slice(2) : words;
  const v = verb.toUpperCase();
  if (sandbox) return `${sandbox}${method === 'prepare' ? 'prepare' : v === 'SELECT' ? 'read' : 'write/transaction'}`;
  if (v === 'BEGIN' || v === 'COMMIT' || v === 'ROLLBACK') return 'BEGIN/COMMIT';
  if (v === 'SAVEPOINT' || v === 'RELEASE') return 'SAVEPOINT/RELEASE';
  if (v === 'SELECT' || v === 'WITH') return `${method === 'prepare' ? 'prepare' : 'read'} (SELECT)`;
  if (v === 'INSERT' || v === 'UPDATE' || v === 'DELETE' || v === 'REPLACE') return `${method === 'prepare' ? 'prepare' : 'write'} (${v})`;
  return `${method} ${v} ${second}`.trim();
}

const probe = new Database(':memory:');
const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
type Stmt = { source: string; database: { name: string } };
probe.close();
for (const method of ['run', 'get', 'all', 'iterate'] as const) {
  const original = statementProto[method] as (this: Stmt, ...a: unknown[]) => unknown;
  statementProto[method] = function (this: Stmt, ...a: unknown[]) {
    count(method, this.source, this.database.name);
    return original.apply(this, a);
  };
}
const dbProto = Database.prototype as unknown as Record<string, unknown>;
for (const method of ['exec', 'prepare'] as const) {
  const original = dbProto[method] as (this: { name: string }, sql: string, ...a: unknown[]) => unknown;
  dbProto[method] = function (this: { name: string }, sql: string, ...a: unknown[]) {
    count(method, sql, this.name);
    return original.call(this, sql, ...a);
  };
}

// ---------------------------------------------------------------- the load

async function submit(p: EmbeddedPipeline, tpps: BenchTpps, r: PreparedRequest): Promise<void> {
  const res = await httpsRequest(`${p.origin}/register`, {
    method: 'POST',
    body: r.body,
    headers: { 'content-type': 'application/jwt' },
    identity: tpps.identities[r.identity],
  });
  if (res.status !== 201) throw new Error(`unexpected ${res.status}: ${res.text.slice(0, 200)}`);
}

/** Every registration final and the outbox drained (read with counting off). */
async function settled(p: EmbeddedPipeline, total: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    counting = false;
    const byStatus = await p.rt.adapters.store.countRegistrationsByStatus();
    const unpublished = (await p.rt.adapters.store.pendingOutbox(1)).length;
    counting = true;
    if ((byStatus.registered ?? 0) >= total && unpublished === 0) return;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(byStatus)}, ${unpublished} unpublished`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Window = { name: string; registrations: number; perRegistration: Record<string, number>; byKind: Record<string, number>; total: number };

function snapshot(name: string, registrations: number): Window {
  const per = (n: number) => Math.round((n / registrations) * 100) / 100;
  const perRegistration: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const [key, n] of [...counts.entries()].sort((a, b) => b[1] - a[1])) {
    perRegistration[key] = per(n);
    const k = kindOf(key);
    byKind[k] = (byKind[k] ?? 0) + n;
    if (!key.startsWith('prepare ')) total += n;
  }
  for (const k of Object.keys(byKind)) byKind[k] = per(byKind[k] as number);
  return { name, registrations, perRegistration, byKind, total: per(total) };
}

function print(w: Window): void {
  process.stdout.write(`\n== ${w.name}: ${w.registrations} registrations; ${w.total} statement calls per registration (prepare not included)\n`);
  for (const [k, v] of Object.entries(w.byKind).sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${v.toFixed(2).padStart(7)}  ${k}\n`);
  process.stdout.write('  -- by statement\n');
  for (const [k, v] of Object.entries(w.perRegistration)) process.stdout.write(`  ${v.toFixed(2).padStart(7)}  ${k}\n`);
}

const pipeline = await startEmbeddedPipeline();
const windows: Window[] = [];
try {
  const tpps = await createTpps(pipeline.directory, 16, pipeline.audience, 'stmts');
  const requests = await signedRequests(tpps, 16 + N + N16);
  let done = 0;
  // warm-up: every TPP once (its JWKS and revocation evidence cached, statements prepared)
  await Promise.all(requests.slice(0, 16).map((r) => submit(pipeline, tpps, r)));
  done += 16;
  await settled(pipeline, done);

  counts.clear();
  counting = true;
  for (const r of requests.slice(16, 16 + N)) await submit(pipeline, tpps, r);
  done += N;
  await settled(pipeline, done);
  counting = false;
  windows.push(snapshot('one at a time', N));

  counts.clear();
  counting = true;
  const queue = requests.slice(16 + N);
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let r = queue.shift(); r; r = queue.shift()) await submit(pipeline, tpps, r);
  }));
  done += N16;
  await settled(pipeline, done);
  counting = false;
  windows.push(snapshot('16 in flight', N16));
} finally {
  counting = false;
  await pipeline.stop();
}
for (const w of windows) print(w);
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ at: new Date().toISOString(), windows }, null, 2)}\n`);
process.exit(0);
