/** The result file of a chaos run: machine, commit, settings, timeline, counters and invariants. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { dirname } from 'node:path';

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function gitInfo(): { commit: string; dirty: boolean } {
  const status = git(['status', '--porcelain']);
  return { commit: git(['rev-parse', 'HEAD']), dirty: status !== '' && status !== 'unknown' };
}

export function machineInfo(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGbAtStart: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${process.platform} ${release()}`,
  };
}

/** Writes `result` as indented JSON (Maps are not expected: callers pass plain data). */
export function writeResult(file: string, result: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}
