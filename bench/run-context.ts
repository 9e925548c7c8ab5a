/** What a result file says about where it was measured: the machine and the git commit. */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The commit, and whether the tree had changes (untracked files count). */
export function gitInfo(): { commit: string; dirty: boolean } {
  const status = git(['status', '--porcelain']);
  return { commit: git(['rev-parse', 'HEAD']), dirty: status !== '' && status !== 'unknown' };
}

export function machineInfo() {
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
