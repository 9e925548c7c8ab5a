/**
 * Embedded mode: our pipeline (one process, SQLite) against the bound (TLS + two JWS verifications,
 * answering 201) and the peer (node-oidc-provider 8 registration), all with the same server
 * certificate, client CAs and TLS settings, driven by the same generator in the same run; then ours
 * at a fixed rate of half its maximum for the latency target.
 *
 * Variants (issue 21): connections fresh (one mTLS handshake per registration, as TPPs do) or
 * keep-alive; 16 or 2 in flight; the sandbox directory's JWKS cacheable (`max-age=60`) or `no-store`
 * (every registration fetches the directory JWKS, the software JWKS and the revoked JWKS). The
 * default run has fresh×16×cacheable (+ the half-max latency phase), fresh×16×no-store and
 * keep-alive×16×cacheable; `--matrix` runs all eight. Each variant reports ours/bound, ours/peer
 * and the server CPU per registration of the bound and of ours, taken in the same run.
 */
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startBoundServer } from '../bound-server.js';
import { boundKeys, createTpps, peerRequests, signedRequests } from '../fixtures.js';
import { fixedBatchJob, runLoadInChild } from '../load-generator.js';
import { startPeer } from '../peer-oidc-provider.js';
import { startEmbeddedPipeline, type EmbeddedPipeline } from '../pipeline.js';
import { stageTimings } from '../stage-timings.js';
import { round2, runPhase, type BenchSettings, type PhaseResult, type Ratio, type ScenarioResult, type TargetCheck } from '../phase.js';

export const TPP_COUNT = 20;

/** How many requests a phase might use at `perSecond` (the pool may run out; the result says so). */
export function poolSize(settings: BenchSettings, perSecond: number): number {
  return Math.ceil(((settings.durationMs + settings.warmupMs) / 1000) * perSecond);
}

export type DirectoryMode = 'cacheable' | 'no-store';

export interface EmbeddedVariant {
  reuse: boolean;
  concurrency: number;
  directory: DirectoryMode;
  /** also run ours at half its maximum rate (the latency target) */
  halfMax: boolean;
}

export const variantName = (v: Pick<EmbeddedVariant, 'reuse' | 'concurrency' | 'directory'>) =>
  `${v.reuse ? 'keep-alive' : 'fresh'}×${v.concurrency}×${v.directory}`;
const connectionName = (v: Pick<EmbeddedVariant, 'reuse' | 'concurrency'>) => `${v.reuse ? 'keep-alive' : 'fresh'}×${v.concurrency}`;

/** The variants a run measures: `--matrix` all eight; `--reuse` keep-alive only (as before); else the default three. */
export function embeddedVariants(settings: BenchSettings): EmbeddedVariant[] {
  const c = settings.concurrency;
  if (settings.matrix) {
    const out: EmbeddedVariant[] = [];
    for (const directory of ['cacheable', 'no-store'] as const)
      for (const reuse of [false, true])
        for (const concurrency of [16, 2]) out.push({ reuse, concurrency, directory, halfMax: !reuse && concurrency === 16 && directory === 'cacheable' });
    return out;
  }
  if (settings.reuse) return [{ reuse: true, concurrency: c, directory: 'cacheable', halfMax: true }];
  return [
    { reuse: false, concurrency: c, directory: 'cacheable', halfMax: true },
    { reuse: false, concurrency: c, directory: 'no-store', halfMax: false },
    { reuse: true, concurrency: c, directory: 'cacheable', halfMax: false },
  ];
}

/** Server CPU ms per request started in the phase (warm-up included, as the CPU figure is). */
export function serverCpuMsPerRequest(ph: PhaseResult): number | null {
  const server = ph.processes.filter((p) => !p.name.startsWith('load generator') && !p.name.startsWith('sandbox'));
  if (ph.load.sent === 0) return null;
  return round2((server.reduce((a, p) => a + p.cpuSeconds, 0) * 1000) / ph.load.sent);
}

/** Upper bound of a phase's request rate, to size its pool of signed requests. */
function expectedRate(v: EmbeddedVariant): number {
  // ours: ≈ 120/s fresh and well under 300/s keep-alive on the 2-core build machine; the bound and
  // the peer repeat the pool, so it is sized for ours (signing it takes time too)
  if (v.reuse) return v.concurrency >= 16 ? 300 : 150;
  return v.concurrency >= 16 ? 250 : 100;
}

interface VariantPhases {
  variant: EmbeddedVariant;
  bound?: PhaseResult;
  peer?: PhaseResult;
  ours?: PhaseResult;
  half?: PhaseResult;
}

export async function embeddedScenario(settings: BenchSettings): Promise<ScenarioResult> {
  const log = settings.log;
  const variants = embeddedVariants(settings);
  const phases: PhaseResult[] = [];
  const measured = new Map<string, VariantPhases>(variants.map((v) => [variantName(v), { variant: v }]));
  // The bound and the peer never reach the directory: one phase per connection mode and
  // concurrency serves both directory modes (run with the first pipeline that needs it).
  const boundOf = new Map<string, PhaseResult>();
  const peerOf = new Map<string, PhaseResult>();
  let timings: unknown;

  for (const directory of ['cacheable', 'no-store'] as const) {
    const mine = variants.filter((v) => v.directory === directory);
    if (mine.length === 0) continue;
    log(`embedded: starting the pipeline (SQLite, one process; directory JWKS ${directory}) and creating sandbox TPPs`);
    const pipeline = await startEmbeddedPipeline({}, directory === 'no-store' ? { jwksCacheControl: 'no-store' } : {});
    try {
      const tpps = await createTpps(pipeline.directory, TPP_COUNT, pipeline.audience);
      const base = { durationMs: settings.durationMs, warmupMs: settings.warmupMs, identities: tpps.identities };
      const procs = [
        { name: 'server (bench process)', pid: process.pid },
        { name: 'sandbox directory (external)', pid: pipeline.directoryProcess.pid },
      ];
      if (settings.targets.has('ours')) await warmUp(pipeline, tpps, log);
      for (const v of mine) {
        const vs = { ...settings, reuse: v.reuse };
        const mode = { kind: 'concurrency' as const, concurrency: v.concurrency };
        const name = variantName(v);
        const entry = measured.get(name) as VariantPhases;
        const pool = poolSize(settings, expectedRate(v));
        log(`embedded [${name}]: signing ${pool} registrations before the timed phases`);
        const requests = await signedRequests(tpps, pool);
        const conn = connectionName(v);

        // The bound (stores nothing: it may repeat requests, and its pool is ours next).
        if (settings.targets.has('bound') && !boundOf.has(conn)) {
          const bound = await startBoundServer(pipeline.tls, await boundKeys(pipeline.directory, tpps));
          try {
            await probe(`${bound.origin}/register`, requests[0]?.body ?? '', 'application/jwt', tpps.identities[0], 'bound');
            const ph = await runPhase(vs, `bound [${conn}]`, { ...base, label: `bound ${conn}`, origin: bound.origin, path: '/register', requests, repeatRequests: true, mode }, procs);
            phases.push(ph);
            boundOf.set(conn, ph);
          } finally {
            await bound.stop();
          }
        }
        // The peer (in-memory: repeated metadata registers another client).
        if (settings.targets.has('peer') && !peerOf.has(conn)) {
          const peerBodies = peerRequests(tpps, Math.min(pool, 2000));
          const peer = await startPeer(pipeline.tls);
          try {
            await probe(`${peer.origin}${peer.path}`, peerBodies[0]?.body ?? '', 'application/json', tpps.identities[0], 'peer');
            const ph = await runPhase(vs, `peer (oidc-provider 8) [${conn}]`, { ...base, label: `peer ${conn}`, origin: peer.origin, path: peer.path, requests: peerBodies, repeatRequests: true, mode }, procs);
            phases.push(ph);
            peerOf.set(conn, ph);
          } finally {
            await peer.stop();
          }
        }
        entry.bound = boundOf.get(conn);
        entry.peer = peerOf.get(conn);
        if (!settings.targets.has('ours')) continue;

        // Ours at maximum (the bound's probe used requests[0] on the bound only).
        entry.ours = await runPhase(vs, `ours (embedded) [${name}]`, { ...base, label: `ours ${name}`, origin: pipeline.origin, path: '/register', requests, mode }, procs);
        phases.push(entry.ours);
        if (v.halfMax) {
          // the first ours phase of its pipeline (the variants' order puts it first)
          timings = stageTimings(await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 }));
          log(`embedded: where the time goes (ms): ${JSON.stringify(timings)}`);
          entry.half = await halfMaxPhase(vs, pipeline, tpps, base, procs, entry.ours, name);
          phases.push(entry.half);
        }
      }
    } finally {
      await pipeline.stop();
    }
  }

  const ratios: Ratio[] = [];
  for (const { variant, bound, peer, ours } of measured.values()) {
    if (!ours) continue;
    const name = variantName(variant);
    const o = ours.load.throughputPerSecond;
    if (bound) ratios.push({ name: `${name}: ours / bound`, value: bound.load.throughputPerSecond > 0 ? round2(o / bound.load.throughputPerSecond) : 0, detail: `${o}/s vs ${bound.load.throughputPerSecond}/s` });
    if (peer) ratios.push({ name: `${name}: ours / peer`, value: peer.load.throughputPerSecond > 0 ? round2(o / peer.load.throughputPerSecond) : 0, detail: `${o}/s vs ${peer.load.throughputPerSecond}/s` });
    const oc = serverCpuMsPerRequest(ours);
    const bc = bound ? serverCpuMsPerRequest(bound) : null;
    if (oc !== null && bc !== null && bc > 0) ratios.push({ name: `${name}: server CPU ms/reg ours / bound`, value: round2(oc / bc), detail: `${oc} ms vs ${bc} ms` });
  }

  const ratio = (v: string, what: string) => ratios.find((r) => r.name === `${v}: ${what}`);
  const atLeast = (target: string, v: string, goal: number): TargetCheck => {
    const r = ratio(v, 'ours / bound');
    return { target, goal: `≥ ${goal}`, measured: r ? `${r.value}× (${r.detail})` : 'not run', met: r ? r.value >= goal : null };
  };
  const cpu = ratio('fresh×16×cacheable', 'server CPU ms/reg ours / bound');
  const half = measured.get('fresh×16×cacheable')?.half ?? [...measured.values()].find((m) => m.half)?.half;
  const targets: TargetCheck[] = [
    atLeast('embedded ≥ 0.6× bound (fresh connections, 16 in flight, cacheable directory)', 'fresh×16×cacheable', 0.6),
    atLeast('embedded ≥ 0.45× bound (fresh, 16, no-store directory)', 'fresh×16×no-store', 0.45),
    { target: 'server CPU per registration ≤ 2× the bound’s (fresh, 16, cacheable)', goal: '≤ 2', measured: cpu ? `${cpu.value}× (${cpu.detail})` : 'not run', met: cpu ? cpu.value <= 2 : null },
    atLeast('keep-alive ≥ 0.3× bound (16, cacheable)', 'keep-alive×16×cacheable', 0.3),
    {
      target: 'p99 ≤ 100 ms at half max rate',
      goal: '≤ 100 ms',
      measured: half ? `${half.load.latency.p99Ms} ms (achieved ${half.load.throughputPerSecond}/s)` : 'not run',
      met: half ? half.load.latency.p99Ms <= 100 && half.load.succeeded > 0 : null,
    },
  ];
  return {
    scenario: 'embedded',
    extra: { stageTimingsAtMax: timings, variants: variants.map(variantName) },
    description: `ours (embedded, SQLite) vs bound vs peer; variants ${variants.map(variantName).join(', ')}`,
    phases,
    ratios,
    targets,
    notes: [
      'The bound and the peer ran in this (the bench) process, as ours did; the generator in a child process; the sandbox directory in a process of its own (its CPU is reported, not charged to ours).',
      'The bound and the peer do not reach the directory: their phase for a connection mode and concurrency serves both directory modes. They repeat their pool of requests when it runs out (they store nothing); ours never does.',
      'The peer verifies no JWS (oidc-provider has no software statement support) and keeps clients in memory; ours verifies two JWS, checks revocation against the sandbox directory and writes SQLite (every acknowledged write fsynced).',
      'CPU ms/reg: the server process (the bench process) per request started in the phase, warm-up included.',
      `Each pipeline is warmed up before its first measured phase by ${WARM_UP.keepAlive} registrations on keep-alive connections and ${WARM_UP.fresh} on fresh ones (not recorded): a process's first thousand registrations cost it about twice the CPU while the JIT compiles (bench/fresh-slowdown.ts, README "Performance").`,
    ],
  };
}

/** The unmeasured warm-up of a pipeline's process (issue 21 point 4: the JIT, not the connection mode). */
export const WARM_UP = { keepAlive: 800, fresh: 400 } as const;

async function warmUp(pipeline: EmbeddedPipeline, tpps: Awaited<ReturnType<typeof createTpps>>, log: (line: string) => void): Promise<void> {
  log(`embedded: warming the pipeline up (${WARM_UP.keepAlive} keep-alive and ${WARM_UP.fresh} fresh registrations, not recorded)`);
  const requests = await signedRequests(tpps, WARM_UP.keepAlive + WARM_UP.fresh);
  for (const [reuse, slice] of [
    [true, requests.slice(0, WARM_UP.keepAlive)],
    [false, requests.slice(WARM_UP.keepAlive)],
  ] as const) {
    await runLoadInChild(fixedBatchJob({ label: 'warm-up', origin: pipeline.origin, identities: tpps.identities, requests: [...slice], reuseConnections: reuse, concurrency: 16 }), () => {});
  }
}

async function probe(url: string, body: string, contentType: string, identity: Parameters<typeof httpsRequest>[1]['identity'], what: string): Promise<void> {
  const res = await httpsRequest(url, { method: 'POST', body, headers: { 'content-type': contentType }, identity });
  if (res.status !== 201) throw new Error(`${what} probe: ${res.status} ${res.text}`);
}

async function halfMaxPhase(
  settings: BenchSettings,
  pipeline: EmbeddedPipeline,
  tpps: Awaited<ReturnType<typeof createTpps>>,
  base: { durationMs: number; warmupMs: number; identities: Awaited<ReturnType<typeof createTpps>>['identities'] },
  procs: Array<{ name: string; pid: number }>,
  oursMax: PhaseResult,
  name: string,
): Promise<PhaseResult> {
  const half = Math.max(1, Math.round(oursMax.load.throughputPerSecond / 2));
  const halfRequests = await signedRequests(tpps, poolSize(settings, half) + 10);
  return runPhase(settings, `ours at half max (${half}/s) [${name}]`, {
    ...base,
    label: 'ours-half',
    origin: pipeline.origin,
    path: '/register',
    requests: halfRequests,
    mode: { kind: 'rate', perSecond: half },
  }, procs);
}
