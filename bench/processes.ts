/** Service processes for the benchmark: `node --import tsx services/<name>/main.ts` with DCR_* env. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { httpsRequest } from '../sandbox/tpp-client/https-client.js';
import { sandboxServiceArgs } from '../testkit/service-entry.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** the last lines it wrote (for error messages) */
  tail(): string;
}

export function startService(name: string, env: Record<string, string>): ServiceProcess {
  // DCR_BENCH_CPU_PROF_DIR=<dir>: each service writes a V8 CPU profile there when it exits.
  const profile = process.env.DCR_BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DCR_BENCH_CPU_PROF_DIR}/${name}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', ...sandboxServiceArgs(name)], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (d: Buffer) => {
    lines.push(d.toString());
    if (lines.length > 40) lines.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return { name, child, pid: child.pid, tail: () => lines.join('') };
}

export async function stopServices(services: ServiceProcess[]): Promise<void> {
  for (const s of services) if (s.child.exitCode === null) s.child.kill('SIGTERM');
  await Promise.all(
    services.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null) return resolve();
          const timer = setTimeout(() => {
            s.child.kill('SIGKILL');
          }, 10_000);
          s.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms\n${context()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until `url` answers 200 over HTTPS trusting `caPem`. */
export function untilHttpsOk(what: string, url: string, caPem: string, timeoutMs: number, context?: () => string): Promise<true> {
  return until(what, async () => ((await httpsRequest(url, { identity: { caPem } })).status === 200 ? true : undefined), timeoutMs, context);
}
