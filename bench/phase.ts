/** One timed phase: the load generator in a child process, this process and the child sampled from /proc. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad, runLoadInChild, type LoadJob, type LoadResult } from './load-generator.js';
import { ProcessSampler, type MachineFigures, type ProcessFigures } from './sampler.js';

export interface PhaseResult {
  target: string;
  load: LoadResult;
  processes: ProcessFigures[];
  /** the whole machine during the phase: CPU taken by processes that are not part of the benchmark */
  machine: MachineFigures | null;
}

export interface BenchSettings {
  full: boolean;
  reuse: boolean;
  /** embedded scenario: every variant (fresh|keep-alive × 16|2 × cacheable|no-store directory) */
  matrix: boolean;
  inProcessGenerator: boolean;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** which targets of the embedded scenario run (bound, peer, ours) */
  targets: Set<string>;
  log: (line: string) => void;
}

export type Ratio = { name: string; value: number; detail: string };
export type TargetCheck = { target: string; goal: string; measured: string; met: boolean | null };

export interface ScenarioResult {
  scenario: string;
  description: string;
  phases: PhaseResult[];
  ratios: Ratio[];
  targets: TargetCheck[];
  extra?: Record<string, unknown>;
  notes: string[];
}

export async function runPhase(
  settings: BenchSettings,
  target: string,
  job: Omit<LoadJob, 'progress' | 'reuseConnections' | 'timeoutMs' | 'pollIntervalMs' | 'followAccepted'> & Partial<Pick<LoadJob, 'followAccepted' | 'timeoutMs'>>,
  serverProcesses: Array<{ name: string; pid: number }> = [{ name: 'server (bench process)', pid: process.pid }],
): Promise<PhaseResult> {
  const sampler = new ProcessSampler();
  for (const p of serverProcesses) sampler.add(p.name, p.pid);
  sampler.start();
  const full: LoadJob = {
    followAccepted: true,
    timeoutMs: 60_000,
    pollIntervalMs: 100,
    reuseConnections: settings.reuse,
    progress: true,
    ...job,
  };
  const mode = full.mode.kind === 'rate' ? `${full.mode.perSecond}/s` : `concurrency ${full.mode.concurrency}`;
  settings.log(`  ${target}: ${mode}, ${((full.warmupMs + full.durationMs) / 1000).toFixed(0)} s (${full.requests.length} prepared)`);
  const profiler = await startPhaseProfile(target);
  const load = settings.inProcessGenerator
    ? await runLoad({ ...full }, settings.log)
    : await runLoadInChild(full, settings.log, (pid) => sampler.add('load generator (child)', pid));
  const processes = sampler.stop();
  await profiler?.stop(settings.log);
  const fails = Object.entries(load.failures).map(([k, v]) => `${v}× ${k}`).join('; ');
  settings.log(
    `  ${target}: ${load.throughputPerSecond}/s, p50 ${load.latency.p50Ms} ms, p99 ${load.latency.p99Ms} ms, max ${load.latency.maxMs} ms${fails ? `, failures: ${fails}` : ''}`,
  );
  if (sampler.machine) settings.log(`  ${target}: machine ${sampler.machine.busyCpuSeconds} CPU-s busy of ${sampler.machine.wallSeconds} s wall, ${sampler.machine.otherCpuSeconds} CPU-s by other processes`);
  return { target, load, processes, machine: sampler.machine };
}

/**
 * DCR_BENCH_CPU_PROF_DIR=<dir>: a V8 CPU profile of this process for the phase alone (warm-up
 * included; start-up and the signing of the load excluded), written to `<dir>/<target>.cpuprofile`.
 * The separate processes of the distributed scenario write their own (processes.ts).
 */
async function startPhaseProfile(target: string): Promise<{ stop(log: (line: string) => void): Promise<void> } | undefined> {
  const dir = process.env.DCR_BENCH_CPU_PROF_DIR;
  if (!dir) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(log) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${target.replace(/[^\w.-]+/g, '_')}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      log(`  ${target}: CPU profile of the phase in ${file}`);
    },
  };
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
