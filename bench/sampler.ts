/** Samples each process's resident memory (VmRSS) and CPU time from /proc while a phase runs (Linux). */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export interface ProcessFigures {
  name: string;
  pid: number;
  peakRssMb: number;
  meanRssMb: number;
  /** user + system CPU seconds used during the sampled window */
  cpuSeconds: number;
  samples: number;
}

const CLK_TCK = 100;

/** Busy and total CPU ticks of the whole machine (/proc/stat), to see what other processes took. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export interface MachineFigures {
  /** CPU seconds used by every process on the machine during the window */
  busyCpuSeconds: number;
  /** of which by processes not sampled here (other work on a shared machine) */
  otherCpuSeconds: number;
  wallSeconds: number;
  loadAverageStart: number;
  loadAverageEnd: number;
}

function readRssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function readCpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of the command name: state is field 3; utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

export class ProcessSampler {
  readonly #targets = new Map<number, { name: string; rss: number[]; cpuStart: number | null; cpuLast: number | null }>();
  #timer: NodeJS.Timeout | undefined;
  #machineStart: { busy: number; total: number } | null = null;
  #wallStart = 0;
  #loadStart = 0;
  /** set by stop() */
  machine: MachineFigures | null = null;

  add(name: string, pid: number): void {
    if (this.#targets.has(pid)) return;
    this.#targets.set(pid, { name, rss: [], cpuStart: readCpuTicks(pid), cpuLast: null });
  }

  start(intervalMs = 500): void {
    this.#machineStart = machineTicks();
    this.#wallStart = performance.now();
    this.#loadStart = loadavg()[0] ?? 0;
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
    this.#sample();
  }

  #sample(): void {
    for (const [pid, t] of this.#targets) {
      const rss = readRssKb(pid);
      if (rss !== null) t.rss.push(rss);
      const cpu = readCpuTicks(pid);
      if (cpu !== null) {
        if (t.cpuStart === null) t.cpuStart = cpu;
        t.cpuLast = cpu;
      }
    }
  }

  stop(): ProcessFigures[] {
    this.#sample();
    if (this.#timer) clearInterval(this.#timer);
    const end = machineTicks();
    const figures = [...this.#targets].map(([pid, t]) => ({
      name: t.name,
      pid,
      peakRssMb: t.rss.length ? Math.round(Math.max(...t.rss) / 102.4) / 10 : 0,
      meanRssMb: t.rss.length ? Math.round(t.rss.reduce((a, b) => a + b, 0) / t.rss.length / 102.4) / 10 : 0,
      cpuSeconds: t.cpuStart !== null && t.cpuLast !== null ? Math.round(((t.cpuLast - t.cpuStart) / CLK_TCK) * 100) / 100 : 0,
      samples: t.rss.length,
    }));
    if (this.#machineStart && end) {
      const busy = (end.busy - this.#machineStart.busy) / CLK_TCK;
      const ours = figures.reduce((a, p) => a + p.cpuSeconds, 0);
      const r = (n: number) => Math.round(n * 100) / 100;
      this.machine = {
        busyCpuSeconds: r(busy),
        otherCpuSeconds: r(Math.max(0, busy - ours)),
        wallSeconds: r((performance.now() - this.#wallStart) / 1000),
        loadAverageStart: r(this.#loadStart),
        loadAverageEnd: r(loadavg()[0] ?? 0),
      };
    }
    return figures;
  }
}
