/**
 * `npx tsx bench/cpu-per-registration.ts [N] [concurrency] [--reuse]`: the server process's CPU per
 * registration for a fixed amount of work, for A/B comparisons on a shared machine where
 * throughput is not reliable. Starts the embedded pipeline (bench/pipeline.ts), warms it up with 40
 * registrations, then sends N (default 300) at `concurrency` in flight (default 16) from the load
 * generator in a child process (a fresh mTLS connection each unless --reuse), waits until every
 * one is `registered` and the outbox is drained, and prints this process's CPU (user + system) per
 * registration over that window, with the machine's other load. One JSON line on stdout.
 */
import { cpus, loadavg } from 'node:os';
import { createTpps, signedRequests } from './fixtures.js';
import { fixedBatchJob, runLoadInChild } from './load-generator.js';
import { startEmbeddedPipeline } from './pipeline.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const N = Number.parseInt(args[0] ?? '300', 10);
const concurrency = Number.parseInt(args[1] ?? '16', 10);
const reuse = process.argv.includes('--reuse');

const pipeline = await startEmbeddedPipeline();
try {
  const tpps = await createTpps(pipeline.directory, 20, pipeline.audience, 'cpu');
  const requests = await signedRequests(tpps, 40 + N);
  const job = (from: number, to: number) =>
    fixedBatchJob({ label: 'cpu', origin: pipeline.origin, identities: tpps.identities, requests: requests.slice(from, to), reuseConnections: reuse, concurrency });
  const settled = async (total: number) => {
    for (;;) {
      const byStatus = await pipeline.rt.adapters.store.countRegistrationsByStatus();
      if ((byStatus.registered ?? 0) >= total && (await pipeline.rt.adapters.store.pendingOutbox(1)).length === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await runLoadInChild(job(0, 40), () => {});
  await settled(40);
  const stat = () => {
    const t = cpus().reduce((a, c) => ({ busy: a.busy + c.times.user + c.times.nice + c.times.sys + c.times.irq, all: a.all + c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle }), { busy: 0, all: 0 });
    return t;
  };
  const m0 = stat();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoadInChild(job(40, 40 + N), () => {});
  await settled(40 + N);
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  const m = stat();
  const ownMs = (c.user + c.system) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      registrations: N,
      concurrency,
      reuse,
      succeeded: load.succeeded,
      serverCpuMsPerRegistration: Math.round((ownMs / N) * 100) / 100,
      wallSeconds: Math.round(wall * 10) / 10,
      machineBusyCpuSeconds: Math.round((m.busy - m0.busy) / 10) / 100,
      generatorCpuSeconds: load.generatorCpuSeconds,
      loadAverage: loadavg()[0],
    })}\n`,
  );
} finally {
  await pipeline.stop();
}
process.exit(0);
