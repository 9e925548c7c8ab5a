/**
 * One distributed chaos run: start the servers and the services (cluster.ts), sign `count`
 * registrations from `tpps` sandbox TPPs, run the load (load.ts) and the fault schedule (faults.ts)
 * together, settle (settle.ts: wait, replay `failed`, wait), check the invariants in the stores
 * (invariants.ts) and write the result file. `npm run chaos` (run.ts) and the short variant in
 * `npm test` (chaos.test.ts) both call {@link runChaos}.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { attachCommandCensus, censusClientOptions } from '../../platform/adapters/mongo/command-census.js';
import { createTpps, signedRequests } from '../../bench/fixtures.js';
import { ProcessSampler } from '../../bench/sampler.js';
import { infraVersions } from '../support/infra.js';
import { ChaosCluster, type ClusterSettings, type UnexpectedExit } from './cluster.js';
import { ALL_FAULTS, FaultRunner, type FaultRecord, type FaultSpec, type FaultTimings } from './faults.js';
import { checkInvariants, type InvariantReport } from './invariants.js';
import { runChaosLoad, type LoadProgress, type LoadSummary } from './load.js';
import { gitInfo, machineInfo, writeResult } from './report.js';
import { settle, type SettleResult } from './settle.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface ChaosOptions {
  /** the result file is `bench/results/chaos-<name>.json` unless `resultFile` says otherwise */
  name: string;
  resultFile?: string;
  /** registrations in the load */
  count: number;
  /** sandbox TPPs the registrations come from */
  tpps: number;
  ratePerSecond: number;
  concurrency: number;
  cluster: ClusterSettings;
  faults: FaultSpec[];
  timings: FaultTimings;
  settleTimeoutMs: number;
  maxReplayRounds: number;
  requestTimeoutMs: number;
  giveUpAfterMs: number;
  /** keep the work dir (server data, service logs): always, never, or when an invariant fails */
  keepWorkDir: 'always' | 'never' | 'on-failure';
  log: (line: string) => void;
  /** more results to put in the file (e.g. the rate limiter's Redis check) */
  extra?: Record<string, unknown>;
}

export interface ChaosResult {
  name: string;
  ok: boolean;
  resultFile: string;
  workDir: string;
  wallSeconds: number;
  load: LoadSummary;
  faults: FaultRecord[];
  settle: SettleResult;
  unexpectedExits: UnexpectedExit[];
  report: InvariantReport;
}

/** Defaults of `npm run chaos` (the full run). */
export function fullRunOptions(log: (line: string) => void): ChaosOptions {
  return {
    name: 'full',
    count: 3000,
    tpps: 50,
    ratePerSecond: 6,
    concurrency: 48,
    cluster: {
      stageAttempts: 5,
      retryBaseDelayMs: 1000,
      syncWaitMs: 5000,
      workerConcurrency: 16,
      fetchCacheMaxAgeSeconds: 5,
      fetchTimeoutMs: 2000,
      instances: { verifier: 2, revocation: 2, provisioner: 2 },
      intakes: 2,
      queueLeaseMs: 5000,
      reconcileIntervalMs: 5000,
      reconcileAfterMs: 15_000,
    },
    faults: ALL_FAULTS,
    timings: {
      serviceDowntimeMs: 3000,
      serverDowntimeMs: { redis: 5000, kafka: 5000, mongo: 30_000 },
      directoryOutageMs: 40_000,
      pauseMs: 12_000,
      partitionMs: 10_000,
      slowMs: 15_000,
      latencyMs: 50,
      jitterMs: 150,
      directoryLatencyMs: 3000,
      recoveryTimeoutMs: 180_000,
      aimMs: 10_000,
      firstAt: 0.05,
      lastAt: 0.85,
    },
    settleTimeoutMs: 600_000,
    maxReplayRounds: 5,
    requestTimeoutMs: 30_000,
    giveUpAfterMs: 300_000,
    keepWorkDir: 'on-failure',
    log,
  };
}

/** The faults of the short variant: the kills, restarts and the outage, one worker pause, one MongoDB partition. */
export const SHORT_FAULTS: FaultSpec[] = ALL_FAULTS.filter(
  (f) => f.kind === 'kill' || f.kind === 'restart' || f.kind === 'outage' || (f.kind === 'pause' && f.target === 'verifier') || (f.kind === 'partition' && f.target === 'mongo'),
);

/** The short variant inside `npm test`: the faults of {@link SHORT_FAULTS} once, two verifiers, a few hundred registrations, ≈ 2–3 minutes. */
export function shortRunOptions(log: (line: string) => void): ChaosOptions {
  const full = fullRunOptions(log);
  return {
    ...full,
    name: 'short',
    count: 270,
    tpps: 12,
    ratePerSecond: 3,
    concurrency: 32,
    cluster: { ...full.cluster, instances: { verifier: 2, revocation: 1, provisioner: 1 }, intakes: 1 },
    faults: SHORT_FAULTS,
    timings: {
      ...full.timings,
      serviceDowntimeMs: 1000,
      serverDowntimeMs: { redis: 2000, kafka: 2000, mongo: 20_000 },
      directoryOutageMs: 20_000,
      pauseMs: 9000,
      partitionMs: 6000,
      recoveryTimeoutMs: 90_000,
      aimMs: 10_000,
      firstAt: 0.05,
      lastAt: 0.75,
    },
    settleTimeoutMs: 240_000,
    giveUpAfterMs: 180_000,
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log;
  const started = new Date();
  const t0 = Date.now();
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const workDir = join(REPO, '.cache', 'chaos', `${stamp}-${process.pid}-${options.name}`);
  const resultFile = resolve(options.resultFile ?? join(REPO, 'bench', 'results', `chaos-${options.name}.json`));
  const machine = machineInfo();
  const git = gitInfo();
  log(`chaos ${options.name}: ${options.count} registrations from ${options.tpps} TPPs at ${options.ratePerSecond}/s (≤ ${options.concurrency} in flight), faults: ${options.faults.length}; work dir ${workDir}`);

  const cluster = await ChaosCluster.start({ settings: options.cluster, workDir, log });
  const startupMs = Date.now() - t0;
  // The harness's own reads (fault probes, settle, checks) are counted too when the services' are (issue 20).
  const censusDir = process.env.DCR_MONGO_COMMAND_CENSUS_DIR;
  const census = censusDir ? { dir: censusDir, instance: 'chaos-harness' } : undefined;
  const mongo = new MongoClient(cluster.mongoUrl, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000, retryWrites: false, ...censusClientOptions(census) });
  const stopCensus = census ? attachCommandCensus(mongo, census) : undefined;
  let ok = false;
  try {
    await mongo.connect();
    const tSign = Date.now();
    const tpps = await createTpps(cluster.directory, options.tpps, cluster.env.DCR_AUDIENCE as string, 'chaos');
    const requests = await signedRequests(tpps, options.count);
    log(`signed ${requests.length} registrations in ${Date.now() - tSign} ms`);

    const sampler = new ProcessSampler();
    const sample = () => {
      for (const p of cluster.processes()) sampler.add(p.name, p.pid);
    };
    sampler.add('chaos run (load generator, fault schedule, checks)', process.pid);
    sample();
    sampler.start(1000);
    const progress: LoadProgress = { started: 0, finished: 0, registered201: 0, accepted202: 0, rejected400: 0, inFlight: 0, done: false };
    const runner = new FaultRunner(cluster, mongo, options.timings, log);
    const loadStart = Date.now();
    const loadRun = runChaosLoad(
      {
        origin: cluster.intakeOrigin,
        identities: tpps.identities,
        requests,
        ratePerSecond: options.ratePerSecond,
        concurrency: options.concurrency,
        requestTimeoutMs: options.requestTimeoutMs,
        giveUpAfterMs: options.giveUpAfterMs,
        log,
      },
      progress,
    );
    // The relay/reconciler leader lease (one document, one owner at a time): who held it, sampled every second.
    const leases = mongo.db().collection<{ _id: string; owner: string; expiresAt: number }>(`${cluster.namespace}_leases`);
    const leaderChanges: { at: string; instance: string | null; owner: string | null }[] = [];
    const instanceOf = (owner: string | null): string | null => {
      if (!owner) return null;
      const worker = owner.split('#')[0];
      return cluster.instancesOf('provisioner').find((id) => cluster.identity(id) === worker) ?? worker ?? null;
    };
    const leaderSampler = setInterval(() => {
      void leases
        .findOne({ _id: 'outbox-relay' })
        .then((doc) => {
          const owner = doc && doc.expiresAt > Date.now() ? doc.owner : null;
          if (leaderChanges.at(-1)?.owner !== owner && !(leaderChanges.length === 0 && owner === null)) leaderChanges.push({ at: new Date().toISOString(), instance: instanceOf(owner), owner });
        })
        .catch(() => {});
    }, 1000);
    const faultRun = (async () => {
      const timeline = await runner.run(options.faults, progress, options.count, loadStart);
      sample();
      return timeline;
    })();
    // new pids after each restart: sample them too
    const resample = setInterval(sample, 2000);
    let load: Awaited<typeof loadRun>;
    let faults: FaultRecord[];
    try {
      [load, faults] = await Promise.all([loadRun, faultRun]);
    } finally {
      clearInterval(resample);
      clearInterval(leaderSampler);
    }
    const loadAndFaultsMs = Date.now() - loadStart;
    log(`load done: ${JSON.stringify(load.summary)}`);

    const settled = await settle(cluster, mongo, { timeoutMs: options.settleTimeoutMs, maxRounds: options.maxReplayRounds, log });
    const processes = sampler.stop();
    log(`settle: ${JSON.stringify(settled)}`);
    const tInv = Date.now();
    const report = await checkInvariants({
      mongo,
      namespace: cluster.namespace,
      redisUrl: cluster.redisUrl,
      kafkaBrokers: cluster.kafkaBrokers,
      records: load.records,
      kafkaReadTimeoutMs: 120_000,
      faultWindows: faults.map((f) => ({ fault: f.fault, startedAtMs: Date.parse(f.startedAt) })),
    });
    const invariantsMs = Date.now() - tInv;
    // A service that died without being killed (a dependency outage it did not survive) is a finding too.
    const exits = cluster.unexpectedExits;
    report.invariants.push({
      name: 'services that exited without being killed',
      ok: exits.length === 0,
      value: exits.length,
      ...(exits.length ? { detail: exits.map((e) => ({ service: e.service, at: e.at, code: e.code, signal: e.signal })) } : {}),
    });
    report.ok = report.invariants.every((i) => i.ok);
    ok = report.ok;
    const wallSeconds = Math.round((Date.now() - t0) / 100) / 10;
    const result = {
      name: options.name,
      description:
        'Distributed mode (intakes behind a round-robin TCP proxy, several instances of verifier, revocation and provisioner + outbox relay under one leader lease, ops, sandbox directory: one Node process each) on Kafka (KRaft), mongo-java-server (H2 file backend) and redis-server (AOF, fsync always), every service link to them and to the directory through a fault-injecting TCP proxy, all on this machine; registrations over fresh mTLS connections, retried with the same bytes on connection errors and 5xx; one fault at a time.',
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      wallSeconds,
      ok,
      machine,
      git,
      infra: infraVersions() ?? null,
      settings: {
        count: options.count,
        tpps: options.tpps,
        ratePerSecond: options.ratePerSecond,
        concurrency: options.concurrency,
        requestTimeoutMs: options.requestTimeoutMs,
        giveUpAfterMs: options.giveUpAfterMs,
        settleTimeoutMs: options.settleTimeoutMs,
        maxReplayRounds: options.maxReplayRounds,
        pipeline: options.cluster,
        faults: options.timings,
      },
      phases: { startupMs, loadAndFaultsMs, settleMs: settled.wallMs, invariantsMs },
      load: load.summary,
      faults,
      relayLeader: {
        note: 'the outbox relay / reconciler lease (one store document), sampled every second: an expired lease counts as no leader',
        changes: leaderChanges,
        instancesThatLed: [...new Set(leaderChanges.map((c) => c.instance).filter((i) => i !== null))],
      },
      settle: settled,
      invariants: report.invariants,
      counters: report.counters,
      unexpectedExits: cluster.unexpectedExits,
      serviceWarnings: cluster.logSummary(),
      processes: { figures: processes, machine: sampler.machine },
      ...(options.extra ?? {}),
    };
    writeResult(resultFile, result);
    log(`chaos ${options.name}: ${ok ? 'all invariants hold' : 'INVARIANTS FAILED'}; result in ${resultFile}`);
    for (const inv of report.invariants) log(`  ${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name}: ${inv.value}`);
    return { name: options.name, ok, resultFile, workDir, wallSeconds, load: load.summary, faults, settle: settled, unexpectedExits: cluster.unexpectedExits, report };
  } finally {
    stopCensus?.();
    await mongo.close(true).catch(() => {});
    await cluster.stop().catch((error: unknown) => log(`stopping the cluster: ${error instanceof Error ? error.message : String(error)}`));
    const keep = options.keepWorkDir === 'always' || (options.keepWorkDir === 'on-failure' && !ok) || process.env['DCR_INFRA_KEEP'] === '1';
    if (keep) log(`work dir kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}
