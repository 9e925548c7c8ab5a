/**
 * Embedded mode: our pipeline (one process, SQLite) against the bound (TLS + two JWS verifications,
 * answering 201) and the peer (node-oidc-provider 8 registration), all with the same server
 * certificate, client CAs and TLS settings, driven by the same generator in the same run; then ours
 * at a fixed rate of half its maximum for the latency target.
 */
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startBoundServer } from '../bound-server.js';
import { boundKeys, createTpps, peerRequests, signedRequests } from '../fixtures.js';
import { startPeer } from '../peer-oidc-provider.js';
import { startEmbeddedPipeline } from '../pipeline.js';
import { stageTimings } from '../stage-timings.js';
import { round2, runPhase, type BenchSettings, type PhaseResult, type ScenarioResult } from '../phase.js';

export const TPP_COUNT = 20;

/** How many requests a phase might use at `perSecond` (the pool may run out; the result says so). */
export function poolSize(settings: BenchSettings, perSecond: number): number {
  return Math.ceil(((settings.durationMs + settings.warmupMs) / 1000) * perSecond);
}

export async function embeddedScenario(settings: BenchSettings): Promise<ScenarioResult> {
  const log = settings.log;
  log('embedded: starting the pipeline (SQLite, one process) and creating sandbox TPPs');
  const pipeline = await startEmbeddedPipeline();
  const phases: PhaseResult[] = [];
  try {
    const tpps = await createTpps(pipeline.directory, TPP_COUNT, pipeline.audience);
    // The bound's pool is reused for our max-rate phase: the bound stores nothing, so every jti is new to us.
    // With keep-alive the bound answers thousands per second: a larger pool (signing takes longer).
    const maxPool = poolSize(settings, settings.reuse ? 2500 : 400);
    log(`embedded: signing ${maxPool} registrations (+ peer metadata) before the timed phases`);
    const requests = await signedRequests(tpps, maxPool);
    const peerBodies = peerRequests(tpps, maxPool);
    const base = { durationMs: settings.durationMs, warmupMs: settings.warmupMs, identities: tpps.identities };
    const concurrency = { kind: 'concurrency' as const, concurrency: settings.concurrency };
    const procs = [
      { name: 'server (bench process)', pid: process.pid },
      { name: 'sandbox directory (external)', pid: pipeline.directoryProcess.pid },
    ];

    // The bound.
    if (settings.targets.has('bound')) {
    const bound = await startBoundServer(pipeline.tls, await boundKeys(pipeline.directory, tpps));
    const probe = await httpsRequest(`${bound.origin}/register`, {
      method: 'POST',
      body: requests[0]?.body ?? '',
      headers: { 'content-type': 'application/jwt' },
      identity: tpps.identities[0],
    });
    if (probe.status !== 201) throw new Error(`bound probe: ${probe.status} ${probe.text}`);
    phases.push(await runPhase(settings, 'bound', { ...base, label: 'bound', origin: bound.origin, path: '/register', requests, mode: concurrency }, procs));
    await bound.stop();
    }

    // The peer.
    if (settings.targets.has('peer')) {
    const peer = await startPeer(pipeline.tls);
    const peerProbe = await httpsRequest(`${peer.origin}${peer.path}`, {
      method: 'POST',
      body: peerBodies[0]?.body ?? '',
      headers: { 'content-type': 'application/json' },
      identity: tpps.identities[0],
    });
    if (peerProbe.status !== 201) throw new Error(`peer probe: ${peerProbe.status} ${peerProbe.text}`);
    phases.push(await runPhase(settings, 'peer (oidc-provider 8)', { ...base, label: 'peer', origin: peer.origin, path: peer.path, requests: peerBodies, mode: concurrency }, procs));
    await peer.stop();
    }
    if (!settings.targets.has('ours')) return { scenario: 'embedded', description: 'bound/peer only', phases, ratios: [], targets: [], notes: [] };

    // Ours at maximum (the probe above used requests[0] on the bound only).
    const oursMax = await runPhase(settings, 'ours (embedded)', { ...base, label: 'ours', origin: pipeline.origin, path: '/register', requests, mode: concurrency }, procs);
    phases.push(oursMax);
    const timings = stageTimings(await pipeline.rt.adapters.store.listRegistrations({ limit: 10_000 }));
    log(`embedded: where the time goes (ms): ${JSON.stringify(timings)}`);

    // Ours at half its maximum rate: the latency target.
    const half = Math.max(1, Math.round(oursMax.load.throughputPerSecond / 2));
    const halfRequests = await signedRequests(tpps, poolSize(settings, half) + 10);
    const oursHalf = await runPhase(settings, `ours at half max (${half}/s)`, {
      ...base,
      label: 'ours-half',
      origin: pipeline.origin,
      path: '/register',
      requests: halfRequests,
      mode: { kind: 'rate', perSecond: half },
    }, procs);
    phases.push(oursHalf);

    const rate = (target: string) => phases.find((ph) => ph.target.startsWith(target))?.load.throughputPerSecond ?? 0;
    const [b, p, o] = [rate('bound'), rate('peer'), oursMax.load.throughputPerSecond];
    const vsBound = b > 0 ? round2(o / b) : 0;
    const vsPeer = p > 0 ? round2(o / p) : 0;
    return {
      scenario: 'embedded',
      extra: { stageTimingsAtMax: timings },
      description: `ours (embedded, SQLite) vs bound vs peer, concurrency ${settings.concurrency}, ${settings.reuse ? 'keep-alive connections' : 'a fresh mTLS connection per registration'}`,
      phases,
      ratios: [
        { name: 'ours / bound', value: vsBound, detail: `${o}/s vs ${b}/s` },
        { name: 'ours / peer', value: vsPeer, detail: `${o}/s vs ${p}/s` },
      ],
      targets: [
        { target: 'embedded ≥ 0.7× bound', goal: '≥ 0.7', measured: `${vsBound}×`, met: vsBound >= 0.7 },
        { target: '≥ 1.0× peer', goal: '≥ 1.0', measured: `${vsPeer}×`, met: vsPeer >= 1.0 },
        {
          target: 'p99 ≤ 100 ms at half max rate',
          goal: '≤ 100 ms',
          measured: `${oursHalf.load.latency.p99Ms} ms at ${half}/s (achieved ${oursHalf.load.throughputPerSecond}/s)`,
          met: oursHalf.load.latency.p99Ms <= 100 && oursHalf.load.succeeded > 0,
        },
      ],
      notes: [
        'The bound and the peer ran in this (the bench) process, as ours did; the generator in a child process; the sandbox directory in a process of its own (its CPU is reported, not charged to ours).',
        'The peer verifies no JWS (oidc-provider has no software statement support) and keeps clients in memory; ours verifies two JWS, checks revocation against the sandbox directory and writes SQLite with synchronous=FULL.',
      ],
    };
  } finally {
    await pipeline.stop();
  }
}
