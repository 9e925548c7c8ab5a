/**
 * Scale (issue 8): the embedded pipeline with 1k and with 1M registered clients (`--clients`), each
 * bulk-loaded straight into its SQLite file; for each count a POST /register phase (new registrations
 * at the maximum concurrency, as in the embedded scenario) and a GET /register/{client_id} phase
 * (RFC 7592 reads of random existing clients, each with its registration access token over mTLS with
 * the certificate of the TPP that registered it, at the maximum concurrency); then the ratios
 * largest/smallest count of throughput and p99 (target: within 10 %) and the pipeline process's peak
 * resident memory (target: under 300 MB).
 *
 * One fresh pipeline per count, not one pipeline loaded incrementally: each count gets its own
 * process (bench/scale-worker.ts) on its own temporary data directory, so the counts differ in the
 * number of clients only (no heap high-water mark, SQLite cache or WAL carried over from the other
 * count's phases) and the resident memory sampled is that of the service alone (the prepared
 * requests, the load generator and the bulk loader, bench/bulk-load.ts, are other processes; unlike
 * the embedded scenario, the pipeline is not in the bench process). All the counts' pipelines are
 * started and loaded first and stay up, idle but for their pollers while another count is measured,
 * and the phases alternate between the counts (`--rounds`, default 2, the order reversed every
 * other round): on a shared machine the load of the other processes changes from minute to minute
 * (phases of the same count moved 2-3× between runs), and a ratio of phases run minutes apart
 * would measure that instead.
 *
 * Per count: start the pipeline; create the 20 bench TPPs; register one client per TPP through the
 * pipeline (the templates); bulk-load count − 20 clones of them with their registrations (progress
 * on stderr); probe one GET. Then the rounds: POST of each count (requests signed just before),
 * GET of each count. Then every pipeline is stopped and its data directory removed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { bulkLoadInChild, type BulkLoadResult, type SampledClient } from '../bulk-load.js';
import { signedRequests } from '../fixtures.js';
import type { PreparedRequest } from '../load-generator.js';
import { round2, runPhase, type BenchSettings, type PhaseResult, type ScenarioResult, type TargetCheck } from '../phase.js';
import { ProcessSampler } from '../sampler.js';
import type { ScaleWorkerCommand, ScaleWorkerMessage, ScaleWorkerReady } from '../scale-worker.js';
import { poolSize, TPP_COUNT } from './embedded.js';

export const DEFAULT_CLIENT_COUNTS = [1000, 1_000_000];
/** Loaded clients handed to the GET phase (uniformly chosen; the phase cycles through them). */
const GET_SAMPLE = 20_000;
const RSS_TARGET_MB = 300;

/** `1000,1000000` or `1k,1M` → [1000, 1000000] */
export function parseClientCounts(value: string): number[] {
  const counts = value
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((v) => {
      const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(v);
      if (!m) throw new Error(`--clients: '${v}' is not a count (e.g. 1000, 1k, 1M)`);
      const n = Math.round(Number(m[1]) * (m[2] === '' ? 1 : m[2]?.toLowerCase() === 'k' ? 1000 : 1_000_000));
      if (n < TPP_COUNT) throw new Error(`--clients: at least ${TPP_COUNT} (one template client per bench TPP)`);
      return n;
    });
  if (counts.length === 0) throw new Error('--clients: no count');
  return counts;
}

export function countLabel(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

/** The pipeline's own process (bench/scale-worker.ts). */
class PipelineProcess {
  readonly #child: ChildProcess;
  readonly #log: (line: string) => void;
  #dataDir: string | undefined;
  #sandboxPid: number | undefined;
  #waiters: Array<(m: ScaleWorkerMessage) => boolean> = [];
  #exited: Promise<number | null>;

  constructor(log: (line: string) => void) {
    this.#log = log;
    const worker = fileURLToPath(new URL('../scale-worker.ts', import.meta.url));
    // --cpu-prof (and --cpu-prof-dir=…) pass through, so `node --cpu-prof --import tsx bench/run.ts` profiles the pipeline too.
    this.#child = fork(worker, [], {
      execArgv: [...process.execArgv.filter((a) => a.startsWith('--cpu-prof')), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.on('message', (raw) => {
      const m = raw as ScaleWorkerMessage;
      if (m.kind === 'log') this.#log(m.line);
      else if (m.kind === 'started') {
        this.#dataDir = m.dataDir;
        this.#sandboxPid = m.sandboxPid;
      }
      this.#waiters = this.#waiters.filter((w) => !w(m));
    });
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error('pipeline process not started');
    return this.#child.pid;
  }

  #await<K extends ScaleWorkerMessage['kind']>(kind: K, timeoutMs: number): Promise<Extract<ScaleWorkerMessage, { kind: K }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pipeline process: no '${kind}' in ${timeoutMs} ms`)), timeoutMs);
      void this.#exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`pipeline process exited with ${code} before '${kind}'`));
      });
      this.#waiters.push((m) => {
        if (m.kind === 'error') {
          clearTimeout(timer);
          reject(new Error(`pipeline process: ${m.message}`));
          return true;
        }
        if (m.kind !== kind) return false;
        clearTimeout(timer);
        resolve(m as Extract<ScaleWorkerMessage, { kind: K }>);
        return true;
      });
    });
  }

  async start(): Promise<ScaleWorkerReady> {
    const ready = this.#await('ready', 180_000);
    // The bulk-loaded clients are a backlog for retention (registered, never compacted); a pipeline
    // at steady state would have compacted them. `DCR_RETENTION_PURGE_INTERVAL_SECONDS=0 npm run
    // bench -- --scenario scale` measures the request paths without the backlog's compaction.
    const retention = process.env.DCR_RETENTION_PURGE_INTERVAL_SECONDS;
    const extraEnv = retention !== undefined ? { DCR_RETENTION_PURGE_INTERVAL_SECONDS: retention } : undefined;
    this.#child.send({ kind: 'start', tppCount: TPP_COUNT, ...(extraEnv ? { extraEnv } : {}) } satisfies ScaleWorkerCommand);
    return (await ready).ready;
  }

  /** Stops the pipeline (it removes its data directory); if that fails, kills it and its sandbox and removes the directory. */
  async stop(): Promise<void> {
    let clean = false;
    if (this.#child.exitCode === null && this.#child.connected) {
      try {
        const stopped = this.#await('stopped', 60_000);
        this.#child.send({ kind: 'stop' } satisfies ScaleWorkerCommand);
        await stopped;
        clean = true;
        await Promise.race([this.#exited, new Promise((r) => setTimeout(r, 10_000))]);
      } catch (error) {
        this.#log(`  pipeline process did not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
    // Only when the pipeline could not stop its sandbox itself (after a clean stop its pid may be reused already).
    if (!clean && this.#sandboxPid !== undefined) {
      try {
        process.kill(this.#sandboxPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true });
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function getRequests(sample: SampledClient[]): PreparedRequest[] {
  return shuffle(sample.slice()).map((c) => ({
    identity: c.identity,
    method: 'GET' as const,
    path: `/register/${c.clientId}`,
    headers: { authorization: `Bearer ${c.token}` },
    body: '',
    contentType: '',
  }));
}

function rssNowMb(pid: number): number {
  const s = new ProcessSampler();
  s.add('pipeline', pid);
  s.start(60_000);
  return s.stop()[0]?.peakRssMb ?? 0;
}

/** One client count: its pipeline process, loaded and probed, ready for phases. */
interface Prepared {
  clients: number;
  label: string;
  pipeline: PipelineProcess;
  ready: ScaleWorkerReady;
  gets: PreparedRequest[];
  bulkLoad: Omit<BulkLoadResult, 'sample'>;
  rssAfterLoadMb: number;
  post: PhaseResult[];
  get: PhaseResult[];
  /** The warm-up round of this fresh process (reported, not counted). */
  warmup: PhaseResult[];
}

async function prepareCount(settings: BenchSettings, clients: number, pipeline: PipelineProcess): Promise<Prepared> {
  const log = settings.log;
  const label = countLabel(clients);
  const ready = await pipeline.start();
  const loadCount = clients - ready.templates.length;
  log(`scale: ${label} clients: bulk-loading ${loadCount} clients and their registrations (+ ${ready.templates.length} registered through the pipeline)`);
  const { sample, ...bulkLoad } = await bulkLoadInChild({ dataDir: ready.dataDir, count: loadCount, templates: ready.templates, sampleSize: GET_SAMPLE });
  const rssAfterLoadMb = rssNowMb(pipeline.pid);
  log(`scale: ${label} clients: pipeline process ${rssAfterLoadMb} MB resident after the load`);
  const gets = getRequests(sample);
  const first = gets[0];
  if (!first) throw new Error('no loaded client to read');
  const probe = await httpsRequest(`${ready.origin}${first.path}`, { headers: first.headers, identity: ready.identities[first.identity] });
  if (probe.status !== 200 || probe.json().client_id !== first.path?.split('/').pop()) {
    throw new Error(`GET probe of a loaded client: HTTP ${probe.status} ${probe.text.slice(0, 200)}`);
  }
  return { clients, label, pipeline, ready, gets, bulkLoad, rssAfterLoadMb, post: [], get: [], warmup: [] };
}

async function runPhases(settings: BenchSettings, p: Prepared, kind: 'POST' | 'GET', round: number, rounds: number): Promise<PhaseResult> {
  const procs = [
    { name: 'pipeline (own process)', pid: p.pipeline.pid },
    { name: 'sandbox directory (external)', pid: p.ready.sandboxPid },
  ];
  const base = { durationMs: settings.durationMs, warmupMs: settings.warmupMs, identities: p.ready.identities, origin: p.ready.origin, path: '/register' };
  const mode = { kind: 'concurrency' as const, concurrency: settings.concurrency };
  const suffix = round === 0 ? ' (warm-up, not counted)' : rounds > 1 ? ` (round ${round})` : '';
  if (kind === 'POST') {
    // Signed now (each jti is used once), while every pipeline is idle.
    const tpps = { tpps: [], credentials: p.ready.credentials, identities: p.ready.identities, audience: p.ready.audience };
    const requests = await signedRequests(tpps, poolSize(settings, settings.reuse ? 1000 : 300));
    return runPhase(settings, `POST, ${p.label} clients${suffix}`, { ...base, label: `post-${p.label}-${round}`, requests, mode }, procs);
  }
  return runPhase(
    settings,
    `GET /register/{id}, ${p.label} clients${suffix}`,
    { ...base, label: `get-${p.label}-${round}`, requests: p.gets, repeatRequests: true, followAccepted: false, mode },
    procs,
  );
}

const pipelineRss = (ph: PhaseResult) => ph.processes.find((p) => p.name.startsWith('pipeline'))?.peakRssMb ?? 0;

/**
 * Over the rounds: throughput = all successes / all measured seconds; p99 = the mean of the rounds'
 * p99; the pipeline's CPU per request started (warm-up included, as in the table), the figure least
 * moved by what the rest of the machine does.
 */
function combine(phases: PhaseResult[]): { throughput: number; p99Ms: number; succeeded: number; peakRssMb: number; cpuMsPerRequest: number } {
  const succeeded = phases.reduce((a, ph) => a + ph.load.succeeded, 0);
  const sent = phases.reduce((a, ph) => a + ph.load.sent, 0);
  const cpu = phases.reduce((a, ph) => a + (ph.processes.find((p) => p.name.startsWith('pipeline'))?.cpuSeconds ?? 0), 0);
  const seconds = phases.reduce((a, ph) => a + ph.load.measuredSeconds, 0);
  return {
    throughput: seconds > 0 ? Math.round((succeeded / seconds) * 10) / 10 : 0,
    p99Ms: phases.length ? round2(phases.reduce((a, ph) => a + ph.load.latency.p99Ms, 0) / phases.length) : 0,
    succeeded,
    peakRssMb: Math.max(0, ...phases.map(pipelineRss)),
    cpuMsPerRequest: sent > 0 ? round2((cpu * 1000) / sent) : 0,
  };
}

export async function scaleScenario(settings: BenchSettings, counts: number[] = DEFAULT_CLIENT_COUNTS, rounds = 2): Promise<ScenarioResult> {
  const log = settings.log;
  const notes: string[] = [
    'Per count a fresh pipeline process on a fresh data directory (bench/scale-worker.ts), all started and loaded before the first phase; clients bulk-loaded by bench/bulk-load.ts as clones of clients registered through the pipeline, each with its registration.',
    `Phases alternate between the counts (POST of each count, then GET of each count), ${rounds} round(s), the order of the counts reversed every other round, so a change in what the rest of the machine does weighs on every count alike; figures over rounds: throughput = successes / measured seconds of all rounds, p99 = mean of the rounds' p99.`,
    'Resident memory: the pipeline process (intake, stages, relay: the whole embedded service), sampled during its own phases; the sandbox directory is reported, not ours.',
    `GET phases cycle through up to ${GET_SAMPLE} uniformly chosen loaded clients, each read with its own token and its TPP's certificate.`,
  ];
  const prepared: Prepared[] = [];
  const started: PipelineProcess[] = [];
  try {
    for (const clients of counts) {
      log(`scale: ${countLabel(clients)} clients: starting a fresh pipeline process`);
      const pipeline = new PipelineProcess(log);
      started.push(pipeline);
      try {
        prepared.push(await prepareCount(settings, clients, pipeline));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`scale: ${countLabel(clients)} clients failed: ${message}`);
        notes.push(`${countLabel(clients)} clients: failed: ${message.split('\n')[0]}`);
        await pipeline.stop();
      }
    }
    if (prepared.length === 0) throw new Error('scale: no client count could be prepared');
    // Each count runs in a fresh process: a first POST and GET phase warms it up (JIT, caches), so
    // the counted rounds compare warm processes (a cold first round moved POST by up to 30 %).
    const warmup = { ...settings, durationMs: Math.min(settings.durationMs, 8000) };
    for (const p of prepared) for (const kind of ['POST', 'GET'] as const) p.warmup.push(await runPhases(warmup, p, kind, 0, rounds));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? prepared : [...prepared].reverse();
      for (const kind of ['POST', 'GET'] as const) {
        for (const p of order) (kind === 'POST' ? p.post : p.get).push(await runPhases(settings, p, kind, round, rounds));
      }
    }
  } finally {
    for (const p of started) await p.stop();
  }

  const ratios: ScenarioResult['ratios'] = [];
  const targets: TargetCheck[] = [];
  const sorted = [...prepared].sort((a, b) => a.clients - b.clients);
  const small = sorted[0] as Prepared;
  const large = sorted[sorted.length - 1] as Prepared;
  if (large.clients > small.clients) {
    for (const kind of ['POST', 'GET'] as const) {
      const a = combine(kind === 'POST' ? small.post : small.get);
      const b = combine(kind === 'POST' ? large.post : large.get);
      const tput = a.throughput > 0 ? round2(b.throughput / a.throughput) : 0;
      const p99 = a.p99Ms > 0 ? round2(b.p99Ms / a.p99Ms) : 0;
      ratios.push({ name: `${kind} throughput ${large.label} / ${small.label}`, value: tput, detail: `${b.throughput}/s vs ${a.throughput}/s` });
      ratios.push({ name: `${kind} p99 ${large.label} / ${small.label}`, value: p99, detail: `${b.p99Ms} ms vs ${a.p99Ms} ms` });
      ratios.push({
        name: `${kind} pipeline CPU per request ${large.label} / ${small.label}`,
        value: a.cpuMsPerRequest > 0 ? round2(b.cpuMsPerRequest / a.cpuMsPerRequest) : 0,
        detail: `${b.cpuMsPerRequest} ms vs ${a.cpuMsPerRequest} ms (informative: not a target)`,
      });
      targets.push({
        target: `${kind} throughput at ${large.label} within 10 % of ${small.label}`,
        goal: '≥ 0.9×',
        measured: `${tput}× (${b.throughput}/s vs ${a.throughput}/s)`,
        met: b.succeeded > 0 && tput >= 0.9,
      });
      targets.push({
        target: `${kind} p99 at ${large.label} within 10 % of ${small.label}`,
        goal: '≤ 1.1×',
        measured: `${p99}× (${b.p99Ms} ms vs ${a.p99Ms} ms)`,
        met: b.succeeded > 0 && p99 <= 1.1,
      });
    }
  }
  for (const p of prepared) {
    const peak = Math.max(combine(p.post).peakRssMb, combine(p.get).peakRssMb);
    targets.push({
      target: `pipeline process < ${RSS_TARGET_MB} MB resident, ${p.label} clients`,
      goal: `< ${RSS_TARGET_MB} MB`,
      measured: `peak ${peak} MB (POST ${combine(p.post).peakRssMb}, GET ${combine(p.get).peakRssMb}; ${p.rssAfterLoadMb} after the load)`,
      met: peak > 0 && peak < RSS_TARGET_MB,
    });
  }
  return {
    scenario: 'scale',
    description: `embedded pipeline with ${counts.map(countLabel).join(' and ')} registered clients (bulk-loaded): POST /register and GET /register/{client_id} at concurrency ${settings.concurrency}, ${settings.reuse ? 'keep-alive connections' : 'a fresh mTLS connection per request'}, ${rounds} alternating round(s)`,
    phases: prepared.flatMap((p) => [...p.warmup, ...p.post, ...p.get]),
    ratios,
    targets,
    extra: {
      counts,
      rounds,
      perCount: prepared.map((p) => ({
        clients: p.clients,
        bulkLoad: p.bulkLoad,
        rssAfterLoadMb: p.rssAfterLoadMb,
        post: combine(p.post),
        get: combine(p.get),
      })),
    },
    notes,
  };
}
