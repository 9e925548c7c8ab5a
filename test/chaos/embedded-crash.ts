/**
 * `npm run crash` (tsx test/chaos/embedded-crash.ts): the embedded mode under SIGKILL. Builds and runs
 * `npm start`'s process (node dist/sandbox/standalone/main.js, from sandbox/standalone/main.ts: every stage, the outbox relay and the SQLite event log
 * in one process) on a data directory and ports of its own, submits N registrations with the chaos
 * load (load.ts: fresh mTLS connection each, the same bytes again on a connection error or a 5xx),
 * SIGKILLs the process K times while the load runs and restarts it on the same data directory at
 * once. Then it waits until nothing is in flight, sends every acknowledged submission again (the same
 * bytes), stops the process and reads the SQLite file itself:
 *   lost = acknowledged (201/202) and not `registered`; duplicates = a request with two clients or a
 *   second registration for one submission; exactly one `dcr.client.created` id per client; the
 *   resubmissions answered with the same client / request and nothing new stored.
 * It reports submit→final latency (first POST to the registration's final write) p50/p99 overall
 * and for the registrations in flight at each kill: figures, not assertions. Writes
 * bench/results/crash-embedded.json (or --name). Exit code non-zero when an invariant fails.
 *
 * Options: --count N (600), --kills K (5), --tpps N (20), --rate R per second (6), --concurrency N
 * (32), --name NAME (embedded), --keep (keep the work dir, under the OS temp dir), --no-build (use
 * the dist/ already built).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createTpps, signedRequests } from '../../bench/fixtures.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { loadConfig } from '../../platform/config/load.js';
import { SandboxDirectory, sandboxTrust } from '../../sandbox/directory-sandbox/index.js';
import { freeTcpPort } from '../../testkit/ports.js';
import { runChaosLoad, type LoadProgress, type RequestRecord } from './load.js';
import { gitInfo, machineInfo, writeResult } from './report.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[crash ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

function parseArgs(argv: string[]) {
  const o = { count: 600, kills: 5, tpps: 20, rate: 6, concurrency: 32, name: 'embedded', keep: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${arg} needs a number`);
      return n;
    };
    if (arg === '--count') o.count = num();
    else if (arg === '--kills') o.kills = num();
    else if (arg === '--tpps') o.tpps = num();
    else if (arg === '--rate') o.rate = num();
    else if (arg === '--concurrency') o.concurrency = num();
    else if (arg === '--name') o.name = String(argv[++i]);
    else if (arg === '--keep') o.keep = true;
    else if (arg === '--no-build') o.build = false;
    else throw new Error(`unknown option ${arg}`);
  }
  return o;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}
const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const r = (v: number | null) => (v === null ? null : Math.round(v) / 1000);
  return { n: s.length, p50Seconds: r(quantile(s, 0.5)), p99Seconds: r(quantile(s, 0.99)), maxSeconds: r(quantile(s, 1)) };
};

const poll = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const workDir = join(tmpdir(), `dcr-crash-${stamp}-${process.pid}-${options.name}`);
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const resultFile = resolve(join(REPO, 'bench', 'results', `crash-${options.name}.json`));
  const [httpsPort, sandboxPort, asPort, adminPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const origin = `https://localhost:${httpsPort}`;
  const env: Record<string, string> = {
    DCR_SANDBOX: '1',
    DCR_DATA_DIR: dataDir,
    DCR_HOST: '127.0.0.1',
    DCR_HTTPS_PORT: String(httpsPort),
    DCR_SANDBOX_PORT: String(sandboxPort),
    DCR_SANDBOX_BASE_URL: `https://localhost:${sandboxPort}`,
    DCR_AS_PORT: String(asPort),
    DCR_ADMIN_PORT: String(adminPort),
    DCR_ADMIN_TOKEN: 'crash-run-admin-token',
    DCR_PUBLIC_URL: origin,
    DCR_AUDIENCE: origin,
    DCR_LOG_FORMAT: 'json',
    DCR_LOG_LEVEL: 'warn',
    // Many registrations from few TPPs: the per-TPP limit and load shedding are not what is tested here.
    DCR_RATE_LIMIT_PER_MINUTE: '0',
    DCR_MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  if (options.build) {
    // What `npm start` runs: the build, then node dist/sandbox/standalone/main.js.
    log('npm run build');
    const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  log(`crash ${options.name}: ${options.count} registrations from ${options.tpps} TPPs at ${options.rate}/s (≤ ${options.concurrency} in flight), ${options.kills} × SIGKILL; work dir ${workDir}`);
  // The sandbox material first (CA, intake certificate), then the TPPs, before the process starts.
  await sandboxTrust(loadConfig({ ...process.env, ...env }, { sandboxByDefault: true }));
  const directory = await SandboxDirectory.open({ dataDir, baseUrl: env.DCR_SANDBOX_BASE_URL as string });
  const tpps = await createTpps(directory, options.tpps, origin, 'crash');
  const requests = await signedRequests(tpps, options.count);
  log(`signed ${requests.length} registrations`);

  let child: ChildProcess | undefined;
  let generation = 0;
  const killedByUs = new WeakSet<ChildProcess>();
  const unexpectedExits: Array<{ at: number; code: number | null; signal: string | null }> = [];
  const start = async (): Promise<number> => {
    const began = Date.now();
    const out = createWriteStream(join(workDir, `standalone-${generation++}.log`));
    const c = spawn(process.execPath, ['dist/sandbox/standalone/main.js'], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.pipe(out);
    c.stderr?.pipe(out);
    c.once('exit', (code, signal) => {
      if (!killedByUs.has(c)) unexpectedExits.push({ at: Date.now() - t0, code, signal });
    });
    child = c;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`the standalone process exited (${c.exitCode}) before it was ready; see ${workDir}`);
      const ready = await httpsRequest(`${origin}/health/ready`, { identity: { caPem: directory.caCertPem }, timeoutMs: 2000 }).catch(() => undefined);
      if (ready?.status === 200) return Date.now() - began;
      await poll(100);
    }
  };
  const kill = async () => {
    const c = child as ChildProcess;
    killedByUs.add(c);
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };

  const firstStartMs = await start();
  log(`standalone ready in ${firstStartMs} ms`);
  const progress: LoadProgress = { started: 0, finished: 0, registered201: 0, accepted202: 0, rejected400: 0, inFlight: 0, done: false };
  const loadStart = Date.now();
  const loadRun = runChaosLoad(
    { origin, identities: tpps.identities, requests, ratePerSecond: options.rate, concurrency: options.concurrency, requestTimeoutMs: 15_000, giveUpAfterMs: 180_000, log },
    progress,
  );
  const kills: Array<{ atMs: number; startedBefore: number; clientsWaiting: number; restartMs: number }> = [];
  const faultRun = (async () => {
    for (let k = 0; k < options.kills; k++) {
      const at = Math.round((options.count * (k + 1)) / (options.kills + 1));
      while (progress.started < at && !progress.done) await poll(50);
      if (progress.done) break;
      const atMs = Date.now() - loadStart;
      const clientsWaiting = progress.inFlight;
      await kill();
      const restartMs = await start();
      kills.push({ atMs, startedBefore: progress.started, clientsWaiting, restartMs });
      log(`kill ${k + 1}: SIGKILL at load ${(atMs / 1000).toFixed(1)} s (${progress.started} started, ${clientsWaiting} clients waiting); ready again in ${restartMs} ms`);
    }
  })();
  const [load] = await Promise.all([loadRun, faultRun]);
  log(`load done: ${JSON.stringify(load.summary)}`);

  const db = new Database(join(dataDir, 'dcr.sqlite'), { readonly: true, fileMustExist: true });
  const nonFinal = () =>
    (db.prepare(`SELECT COUNT(*) AS n FROM registrations WHERE status NOT IN ('registered', 'rejected', 'failed')`).get() as { n: number }).n +
    (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL').get() as { n: number }).n +
    (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  const settleStart = Date.now();
  while (nonFinal() > 0 && Date.now() - settleStart < 300_000) await poll(500);
  const settleMs = Date.now() - settleStart;
  log(`settled in ${settleMs} ms (left in flight: ${nonFinal()})`);

  // Resubmissions: every acknowledged submission again, the same bytes.
  const acknowledged = load.records.filter((r) => r.answer === 'registered' || r.answer === 'accepted');
  const countRows = () => ({
    registrations: (db.prepare('SELECT COUNT(*) AS n FROM registrations').get() as { n: number }).n,
    clients: (db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n,
  });
  const beforeResubmit = countRows();
  const again = await runChaosLoad(
    {
      origin,
      identities: tpps.identities,
      requests: acknowledged.map((r) => requests[r.index] as (typeof requests)[number]),
      ratePerSecond: 50,
      concurrency: 8,
      requestTimeoutMs: 15_000,
      giveUpAfterMs: 60_000,
      log,
    },
    { started: 0, finished: 0, registered201: 0, accepted202: 0, rejected400: 0, inFlight: 0, done: false },
  );
  const afterResubmit = countRows();
  db.close();
  if (child) killedByUs.add(child);
  const stopped = new Promise((r) => child?.once('exit', r));
  child?.kill('SIGTERM');
  await stopped;

  // The stores themselves.
  const store = new Database(join(dataDir, 'dcr.sqlite'), { readonly: true, fileMustExist: true });
  const bySubmission = new Map<string, { id: string; status: string; submitted_at: string; updated_at: string; n: number }>();
  for (const row of store.prepare('SELECT id, submission_key, status, submitted_at, updated_at FROM registrations').all() as Array<{ id: string; submission_key: string; status: string; submitted_at: string; updated_at: string }>) {
    const seen = bySubmission.get(row.submission_key);
    bySubmission.set(row.submission_key, { ...row, n: (seen?.n ?? 0) + 1 });
  }
  const clientsByRequest = new Map<string, string[]>();
  for (const row of store.prepare('SELECT client_id, request_id FROM clients').all() as Array<{ client_id: string; request_id: string }>) {
    clientsByRequest.set(row.request_id, [...(clientsByRequest.get(row.request_id) ?? []), row.client_id]);
  }
  const createdIds = new Map<string, Set<string>>();
  let createdDeliveries = 0;
  for (const row of store.prepare(`SELECT id, doc FROM events WHERE topic = 'dcr.client.v1'`).all() as Array<{ id: string; doc: string }>) {
    const e = JSON.parse(row.doc) as { type?: string; subject?: string };
    if (e.type !== 'dcr.client.created' || !e.subject) continue;
    createdDeliveries++;
    createdIds.set(e.subject, (createdIds.get(e.subject) ?? new Set()).add(row.id));
  }
  const allClients = new Set([...clientsByRequest.values()].flat());
  store.close();

  const lost: RequestRecord[] = [];
  const duplicates: string[] = [];
  const finalAt = new Map<number, number>();
  for (const r of acknowledged) {
    const reg = bySubmission.get(r.submissionKey);
    if (!reg || reg.status !== 'registered') {
      lost.push(r);
      continue;
    }
    if (reg.n > 1 || (clientsByRequest.get(reg.id)?.length ?? 0) !== 1) duplicates.push(reg.id);
    finalAt.set(r.index, Date.parse(reg.updated_at) - loadStart);
  }
  const clientsWithoutOneCreated = [...allClients].filter((c) => (createdIds.get(c)?.size ?? 0) !== 1);
  // Resubmitted: the same client (201) or the same request (202) as the store has for that submission.
  const resubmitMismatch = again.records.filter((r, i) => {
    const original = acknowledged[i] as RequestRecord;
    const reg = bySubmission.get(original.submissionKey);
    if (r.answer === 'registered') return !reg || clientsByRequest.get(reg.id)?.[0] !== r.clientId;
    if (r.answer === 'accepted') return !reg || reg.id !== r.requestId;
    return true;
  });

  const latencies = acknowledged.filter((r) => finalAt.has(r.index)).map((r) => (finalAt.get(r.index) as number) - r.startedMs);
  const perKill = kills.map((k) => {
    const inFlight = acknowledged.filter((r) => finalAt.has(r.index) && r.startedMs <= k.atMs && (finalAt.get(r.index) as number) > k.atMs);
    return { ...k, inFlightRegistrations: inFlight.length, submitToFinal: summary(inFlight.map((r) => (finalAt.get(r.index) as number) - r.startedMs)) };
  });
  const inFlightAtAnyKill = new Set(perKill.length ? acknowledged.filter((r) => kills.some((k) => finalAt.has(r.index) && r.startedMs <= k.atMs && (finalAt.get(r.index) as number) > k.atMs)).map((r) => r.index) : []);
  const invariants = [
    { name: 'acknowledged and lost (not registered)', ok: lost.length === 0, value: lost.length, ...(lost.length ? { detail: lost.slice(0, 10).map((r) => ({ index: r.index, answer: r.answer, requestId: r.requestId })) } : {}) },
    { name: 'duplicates (a second registration or client for one submission)', ok: duplicates.length === 0, value: duplicates.length },
    { name: 'clients without exactly one dcr.client.created id', ok: clientsWithoutOneCreated.length === 0, value: clientsWithoutOneCreated.length },
    { name: 'unexpected or unanswered during the load', ok: load.summary.unexpected + load.summary.unanswered === 0, value: load.summary.unexpected + load.summary.unanswered },
    { name: 'resubmissions answered with another client / request, or not 201/202', ok: resubmitMismatch.length === 0, value: resubmitMismatch.length },
    { name: 'rows added by the resubmissions', ok: afterResubmit.registrations === beforeResubmit.registrations && afterResubmit.clients === beforeResubmit.clients, value: afterResubmit.registrations - beforeResubmit.registrations + afterResubmit.clients - beforeResubmit.clients },
    { name: 'exits nobody asked for', ok: unexpectedExits.length === 0, value: unexpectedExits.length },
  ];
  const ok = invariants.every((i) => i.ok);
  const result = {
    name: options.name,
    at: new Date(t0).toISOString(),
    machine: machineInfo(),
    git: gitInfo(),
    settings: options,
    what: 'Embedded mode: sandbox/standalone/main.ts (one process: intake, stages, relay, SQLite store/queue/event log), SIGKILLed and restarted on the same data directory; the chaos load (fresh mTLS connection per POST, same bytes again on errors/5xx).',
    firstStartMs,
    kills: perKill,
    load: load.summary,
    settleMs,
    resubmission: { ...again.summary, before: beforeResubmit, after: afterResubmit },
    events: { clientCreatedDeliveries: createdDeliveries, clientsWithCreated: createdIds.size },
    submitToFinal: {
      overall: summary(latencies),
      inFlightAtAKill: summary(latencies.filter((_, i) => inFlightAtAnyKill.has((acknowledged.filter((r) => finalAt.has(r.index))[i] as RequestRecord).index))),
      notInFlightAtAKill: summary(latencies.filter((_, i) => !inFlightAtAnyKill.has((acknowledged.filter((r) => finalAt.has(r.index))[i] as RequestRecord).index))),
    },
    invariants,
    unexpectedExits,
    ok,
    wallSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  writeResult(resultFile, result);
  for (const i of invariants) log(`${i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.value}`);
  log(`submit→final: ${JSON.stringify(result.submitToFinal)}`);
  log(`result: ${resultFile}`);
  if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
