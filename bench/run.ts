/**
 * `npm run bench` (tsx bench/run.ts): the benchmark suite. Short by default (embedded mode: ours vs
 * the bound vs the peer, fresh and keep-alive connections, cacheable and no-store directory, ≈ 3 min;
 * `--matrix` every variant); `--full` runs longer phases plus the distributed and replay
 * scenarios. Prints a table and writes bench/results/<name>.json with the machine, the commit and
 * every figure. Not a test: nothing here asserts timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { BenchSettings, ScenarioResult } from './phase.js';
import { gitInfo, machineInfo } from './run-context.js';

type ScenarioOptions = { replayCount: number; clients: number[] | undefined; rounds: number };

const SCENARIOS: Record<string, (s: BenchSettings, opts: ScenarioOptions) => Promise<ScenarioResult>> = {
  embedded: async (s) => (await import('./scenarios/embedded.js')).embeddedScenario(s),
  distributed: async (s) => (await import('./scenarios/distributed.js')).distributedScenario(s),
  replay: async (s, o) => (await import('./scenarios/replay.js')).replayScenario(s, o.replayCount),
  scale: async (s, o) => (await import('./scenarios/scale.js')).scaleScenario(s, o.clients, o.rounds),
};

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function printTable(results: ScenarioResult[]): void {
  const rows: string[][] = [['scenario', 'target', 'reg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'ok', 'failed', 'server CPU s', 'CPU ms/reg', 'peak RSS MB', 'others CPU s']];
  for (const r of results) {
    for (const ph of r.phases) {
      const failed = Object.values(ph.load.failures).reduce((a, b) => a + b, 0);
      const serverProcs = ph.processes.filter((p) => !p.name.startsWith('load generator') && !p.name.startsWith('sandbox'));
      rows.push([
        r.scenario,
        ph.target,
        String(ph.load.throughputPerSecond),
        String(ph.load.latency.p50Ms),
        String(ph.load.latency.p95Ms),
        String(ph.load.latency.p99Ms),
        String(ph.load.latency.maxMs),
        String(ph.load.succeeded),
        String(failed),
        String(Math.round(serverProcs.reduce((a, p) => a + p.cpuSeconds, 0) * 10) / 10),
        // server CPU per request started in the phase (warm-up included, as the CPU figure is)
        ph.load.sent > 0 ? ((serverProcs.reduce((a, p) => a + p.cpuSeconds, 0) * 1000) / ph.load.sent).toFixed(2) : '-',
        String(Math.max(0, ...serverProcs.map((p) => p.peakRssMb))),
        String(ph.machine?.otherCpuSeconds ?? '?'),
      ]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const [i, row] of rows.entries()) {
    process.stdout.write(`${row.map((c, j) => pad(c, widths[j] ?? 0)).join('  ')}\n`);
    if (i === 0) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  }
  process.stdout.write('\n');
  for (const r of results) {
    for (const ratio of r.ratios) process.stdout.write(`${r.scenario}: ${ratio.name} = ${ratio.value} (${ratio.detail})\n`);
    for (const t of r.targets) process.stdout.write(`${r.scenario}: target ${t.target}: ${t.measured} → ${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}\n`);
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench')
    .option('--full', 'longer phases, plus the distributed, replay and scale scenarios')
    .option('--scenario <names...>', `scenarios to run (${Object.keys(SCENARIOS).join(', ')})`)
    .option('--reuse', 'keep-alive connections (one agent per TPP) instead of a fresh mTLS connection per registration')
    .option('--matrix', 'embedded scenario: every variant, fresh|keep-alive connections × 16|2 in flight × cacheable|no-store directory JWKS (≈ 5 min)')
    .option('--in-process', 'run the load generator in this process instead of a child process')
    .option('--concurrency <n>', 'requests in flight per phase', (v) => Number.parseInt(v, 10))
    .option('--duration <seconds>', 'measured seconds per phase', (v) => Number.parseFloat(v))
    .option('--replay-count <n>', 'failed registrations to replay (replay scenario)', (v) => Number.parseInt(v, 10))
    .option('--clients <counts>', 'registered clients to bulk-load, one pipeline per count (scale scenario; default 1000,1000000; 1k and 1M work too)')
    .option('--rounds <n>', 'scale scenario: rounds of phases alternating between the client counts (default 2)', (v) => Number.parseInt(v, 10))
    .option('--targets <names...>', 'embedded scenario: which of bound, peer, ours to run', ['bound', 'peer', 'ours'])
    .option('--name <name>', 'result file name (bench/results/<name>.json)');
  program.parse();
  const opts = program.opts<{ full?: boolean; scenario?: string[]; reuse?: boolean; matrix?: boolean; inProcess?: boolean; concurrency?: number; duration?: number; replayCount?: number; clients?: string; rounds?: number; targets: string[]; name?: string }>();
  const full = opts.full === true;
  const names = opts.scenario ?? (full ? ['embedded', 'distributed', 'replay', 'scale'] : ['embedded']);
  for (const n of names) if (!SCENARIOS[n]) throw new Error(`unknown scenario '${n}' (known: ${Object.keys(SCENARIOS).join(', ')})`);

  const settings: BenchSettings = {
    full,
    reuse: opts.reuse === true,
    matrix: opts.matrix === true,
    inProcessGenerator: opts.inProcess === true,
    concurrency: opts.concurrency ?? 16,
    durationMs: (opts.duration ?? (full ? 30 : 12)) * 1000,
    warmupMs: full ? 5000 : 3000,
    targets: new Set(opts.targets),
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const replayCount = opts.replayCount ?? (full ? 10_000 : 1000);
  const rounds = opts.rounds ?? 2;
  const clients = opts.clients !== undefined ? (await import('./scenarios/scale.js')).parseClientCounts(opts.clients) : undefined;
  const startedAt = new Date();
  const results: ScenarioResult[] = [];
  const errors: Array<{ scenario: string; error: string }> = [];
  const name = opts.name ?? `${full ? 'full' : 'short'}-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${name}.json`;
  const git = gitInfo();
  const machine = machineInfo();
  // Written after every scenario, so a long run that is stopped keeps what it measured.
  const save = (complete: boolean) =>
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          name,
          command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
          complete,
          startedAt: startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          machine,
          git,
          settings: { ...settings, targets: [...settings.targets], log: undefined, replayCount, clients, rounds, scenarios: names },
          results,
          errors,
        },
        null,
        2,
      )}\n`,
    );
  for (const n of names) {
    const t0 = Date.now();
    try {
      results.push(await (SCENARIOS[n] as (typeof SCENARIOS)[string])(settings, { replayCount, clients, rounds }));
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      settings.log(`scenario ${n} failed: ${message}`);
      errors.push({ scenario: n, error: message });
    }
    settings.log(`scenario ${n}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    save(false);
  }
  printTable(results);
  save(true);
  process.stdout.write(`\nresults written to ${file}\n`);
  process.exit(errors.length > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
