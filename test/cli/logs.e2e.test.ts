import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort } from '../../testkit/ports.js';
import { ANSI, baseEnv, startStandalone, type StartedPipeline } from './helpers.js';

/** util-linux `script`: runs the command on a pseudo-terminal, as a person's shell does. */
function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

describe.skipIf(!hasScript())('npm start on a terminal: pino-pretty lines, not JSON', () => {
  let dir: string;
  let pipeline: StartedPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-logs-'));
    const [https, sandbox, as, admin] = await Promise.all([freeTcpPort(), freeTcpPort(), freeTcpPort(), freeTcpPort()]);
    const env = baseEnv({
      DCR_DATA_DIR: join(dir, 'var'),
      DCR_HTTPS_PORT: String(https),
      DCR_PUBLIC_URL: `https://localhost:${https}`,
      DCR_SANDBOX_PORT: String(sandbox),
      DCR_SANDBOX_BASE_URL: `https://localhost:${sandbox}`,
      DCR_AS_PORT: String(as),
      DCR_ADMIN_PORT: String(admin),
      TERM: 'xterm-256color',
    });
    pipeline = await startStandalone(env, { wrap: (argv) => ['script', '-q', '-e', '-c', argv.map(quote).join(' '), '/dev/null'] });
  }, 600_000);

  afterAll(async () => {
    await pipeline?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes human-readable, coloured lines (level, time, message) and the banner', () => {
    const lines = pipeline.output().split(/\r?\n/);
    expect(pipeline.banner).toContain('DCR pipeline running: embedded mode');
    // eslint-disable-next-line no-control-regex
    const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain.some((l) => /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Server listening at https:\/\/127\.0\.0\.1:\d+/.test(l))).toBe(true);
    expect(plain.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(pipeline.output()).toMatch(ANSI);
  });
});
