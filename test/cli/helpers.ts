import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO = resolve(import.meta.dirname, '../..');
const CLI_MAIN = resolve(REPO, 'sandbox/cli/main.ts');
const STANDALONE = resolve(REPO, 'sandbox/standalone/main.ts');
/** tsx by path: the processes run in other directories, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(resolve(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * Runs the CLI as a user does (a process of its own, stdout and stderr piped), from source: what
 * bin/dcr-pipeline.js does with the built copy. `env` replaces the environment (no DCR_* leaks in).
 */
export function runCli(args: string[], options: { env: Record<string, string | undefined>; cwd?: string }): Promise<CliResult> {
  const script = `const { run } = await import(${JSON.stringify(CLI_MAIN)}); await run(['node', 'dcr-pipeline', ...process.argv.slice(1)]);`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script, '--', ...args], {
      cwd: options.cwd ?? REPO,
      env: options.env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr, json: <T,>() => JSON.parse(stdout) as T }));
  });
}

/** The environment a CLI or pipeline process gets: PATH and HOME only, plus `extra`. */
export function baseEnv(extra: Record<string, string>): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...extra };
}

export interface StartedPipeline {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  output(): string;
  /** stdout up to and including the banner. */
  banner: string;
  stop(): Promise<void>;
}

/**
 * `npm start` in a process of its own (sandbox/standalone/main.ts from source), resolved once the
 * banner has been printed. `wrap` runs it under another command (e.g. `script` for a terminal).
 */
export function startStandalone(env: Record<string, string | undefined>, options: { wrap?: (argv: string[]) => string[]; timeoutMs?: number } = {}): Promise<StartedPipeline> {
  const argv = [process.execPath, '--import', TSX, STANDALONE];
  const [command, ...args] = options.wrap ? options.wrap(argv) : argv;
  const child = spawn(command as string, args, { cwd: REPO, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the pipeline did not print its banner within ${options.timeoutMs ?? 120_000} ms\nstdout:\n${out}\nstderr:\n${err}`));
    }, options.timeoutMs ?? 120_000);
    const check = () => {
      const end = out.indexOf('events log here');
      if (end < 0) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolveStart({ child, output: () => out, banner: out.slice(0, out.indexOf('\n', end) + 1 || undefined), stop });
    };
    child.stdout?.on('data', check);
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the pipeline exited (${code}) before its banner\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });
}

/** Waits until `predicate` holds for the pipeline's stdout (a line it writes), failing after `timeoutMs`. */
export function waitForOutput(p: StartedPipeline, predicate: (out: string) => boolean, timeoutMs = 30_000): Promise<void> {
  if (predicate(p.output())) return Promise.resolve();
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      p.child.stdout?.off('data', check);
      fail(new Error(`expected output did not appear within ${timeoutMs} ms; stdout:\n${p.output()}`));
    }, timeoutMs);
    const check = () => {
      if (!predicate(p.output())) return;
      clearTimeout(timer);
      p.child.stdout?.off('data', check);
      done();
    };
    p.child.stdout?.on('data', check);
  });
}

// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[/;
