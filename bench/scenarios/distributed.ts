/**
 * Distributed mode: MongoDB (mongo-java-server), Redis/BullMQ and Kafka started on free ports
 * (testkit/servers.ts), the sandbox directory, intake, verifier, revocation and provisioner each
 * its own Node process (`node --import tsx services/<name>/main.ts`), against the bound with the same
 * TLS material in the same run; every process's RSS and CPU sampled.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../platform/config/load.js';
import { SandboxDirectory, sandboxTrust } from '../../sandbox/directory-sandbox/index.js';
import { startInfra } from '../../testkit/servers.js';
import { distributedServiceEnv } from '../../testkit/distributed-env.js';
import { startBoundServer } from '../bound-server.js';
import { boundKeys, createTpps, signedRequests } from '../fixtures.js';
import { freeTcpPort as freePort } from '../../testkit/ports.js';
import { startService, stopServices, until, untilHttpsOk, type ServiceProcess } from '../processes.js';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import { stageTimings } from '../stage-timings.js';
import { round2, runPhase, type BenchSettings, type PhaseResult, type ScenarioResult } from '../phase.js';
import { poolSize, TPP_COUNT } from './embedded.js';

export async function distributedScenario(settings: BenchSettings): Promise<ScenarioResult> {
  const log = settings.log;
  log('distributed: starting Kafka, mongo-java-server and Redis');
  const infra = await startInfra({ kafka: true, mongo: true, redis: true });
  const services: ServiceProcess[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'dcr-bench-dist-'));
  const phases: PhaseResult[] = [];
  try {
    const namespace = `b${randomBytes(4).toString('hex')}`;
    const [sandboxPort, intakePort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      ...distributedServiceEnv({ dataDir, namespace, sandboxPort, intakePort, infra }),
      DCR_SYNC_WAIT_MS: '15000',
      DCR_LOG_LEVEL: 'warn',
      // 20 TPPs carry the whole load: the per-TPP rate limit (600/min by default) is not what is measured here.
      DCR_RATE_LIMIT_PER_MINUTE: '0',
      // Load shedding would turn saturation into 503s; the benchmark measures capacity instead.
      DCR_MAX_EVENT_LOOP_DELAY_MS: '0',
    };
    // The sandbox material (CA, intake server certificate) is created once here, before any service starts.
    const config = loadConfig(env, { sandboxByDefault: true });
    const { trust } = await sandboxTrust(config);
    services.push(startService('directory-sandbox', env));
    const directory = await until(
      'sandbox directory',
      async () => {
        const dir = await SandboxDirectory.open({ dataDir, baseUrl: env.DCR_SANDBOX_BASE_URL as string });
        await untilHttpsOk('directory jwks', dir.directoryJwksUrl, dir.caCertPem, 1000);
        return dir;
      },
      60_000,
      () => services.map((s) => s.tail()).join(''),
    );
    for (const name of ['intake', 'verifier', 'revocation', 'provisioner']) services.push(startService(name, env));
    const tail = () => services.map((s) => `[${s.name}] ${s.tail()}`).join('\n');
    const admin = new Kafka({ brokers: (infra.kafkaBrokers ?? '').split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await until('topics created', async () => ((await admin.listTopics()).includes(`${namespace}.dcr.client.v1`) ? true : undefined), 120_000, tail);
    await admin.disconnect();
    const origin = `https://localhost:${intakePort}`;
    await untilHttpsOk('intake ready', `${origin}/health/ready`, directory.caCertPem, 60_000, tail);
    log('distributed: services up; creating TPPs and signing registrations');

    const tpps = await createTpps(directory, TPP_COUNT, config.audiences[0] ?? origin, 'dist');
    const requests = await signedRequests(tpps, poolSize(settings, 400));
    const base = { durationMs: settings.durationMs, warmupMs: settings.warmupMs, identities: tpps.identities };
    const concurrency = { kind: 'concurrency' as const, concurrency: settings.concurrency };
    if (!trust.server) throw new Error('no intake server certificate');
    const tls = { certPem: trust.server.certPem, keyPem: trust.server.keyPem, clientCaPems: trust.clientCaPems };

    const bound = await startBoundServer(tls, await boundKeys(directory, tpps));
    phases.push(await runPhase(settings, 'bound', { ...base, label: 'bound', origin: bound.origin, path: '/register', requests, mode: concurrency }));
    await bound.stop();

    const procs = [
      ...services.map((s) => ({ name: s.name === 'directory-sandbox' ? 'sandbox directory (external)' : s.name, pid: s.pid })),
      ...infra.servers.filter((s) => s.pid !== undefined).map((s) => ({ name: `infra ${s.name}`, pid: s.pid as number })),
    ];
    const oursMax = await runPhase(settings, 'ours (distributed)', { ...base, label: 'ours-dist', origin, path: '/register', requests, mode: concurrency }, procs);
    phases.push(oursMax);
    const store = await MongoStore.connect(env.DCR_MONGO_URL as string, namespace);
    const timings = stageTimings(await store.listRegistrations({ limit: 10_000 }));
    await store.close();
    log(`distributed: where the time goes (ms): ${JSON.stringify(timings)}`);
    const half = Math.max(1, Math.round(oursMax.load.throughputPerSecond / 2));
    const oursHalf = await runPhase(
      settings,
      `ours distributed at half max (${half}/s)`,
      { ...base, label: 'ours-dist-half', origin, path: '/register', requests: await signedRequests(tpps, poolSize(settings, half) + 10), mode: { kind: 'rate', perSecond: half } },
      procs,
    );
    phases.push(oursHalf);

    const b = phases[0]?.load.throughputPerSecond ?? 0;
    const o = oursMax.load.throughputPerSecond;
    const vsBound = b > 0 ? round2(o / b) : 0;
    return {
      scenario: 'distributed',
      description: `ours (distributed: 4 service processes on MongoDB/BullMQ/Kafka) vs bound, concurrency ${settings.concurrency}`,
      phases,
      ratios: [{ name: 'ours / bound', value: vsBound, detail: `${o}/s vs ${b}/s` }],
      extra: { stageTimingsAtMax: timings },
      targets: [
        { target: 'distributed ≥ 0.35× bound', goal: '≥ 0.35', measured: `${vsBound}×`, met: vsBound >= 0.35 },
        {
          target: 'p99 ≤ 100 ms at half max rate (distributed)',
          goal: '≤ 100 ms',
          measured: `${oursHalf.load.latency.p99Ms} ms at ${half}/s`,
          met: oursHalf.load.latency.p99Ms <= 100 && oursHalf.load.succeeded > 0,
        },
      ],
      notes: [
        'All of it on the same 2-core machine: Kafka, mongo-java-server (JVM, in-memory backend), Redis, five Node service processes and the load generator share the cores.',
        'The bound ran in the bench process while the services idled.',
      ],
    };
  } finally {
    await stopServices(services);
    await infra.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
