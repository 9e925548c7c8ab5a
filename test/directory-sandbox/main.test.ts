import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSandboxConfig } from '../../sandbox/directory-sandbox/config.js';
import { freePort, httpsGet, makeTempDir } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../sandbox/directory-sandbox/main.ts', import.meta.url));

describe('sandbox directory process (main.ts)', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    tmp = await makeTempDir();
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('reads its configuration from the environment with the documented defaults', () => {
    expect(loadSandboxConfig({})).toEqual({
      dataDir: './var',
      host: '127.0.0.1',
      port: 8444,
      baseUrl: 'https://localhost:8444',
      ssaIssuer: undefined,
      ecosystem: 'obie',
    });
    // DCR_PROFILE=cdr / openfinance-br: the sandbox plays that directory and signs as its issuer.
    expect(loadSandboxConfig({ DCR_PROFILE: 'cdr' })).toMatchObject({ ecosystem: 'cdr', ssaIssuer: 'cdr-register' });
    expect(loadSandboxConfig({ DCR_PROFILE: 'openfinance-br' })).toMatchObject({ ecosystem: 'openfinance-br' });
    expect(
      loadSandboxConfig({ DCR_DATA_DIR: '/d', DCR_SANDBOX_HOST: '0.0.0.0', DCR_SANDBOX_PORT: '9000', DCR_SSA_ISSUER: 'X, Y' }),
    ).toMatchObject({ dataDir: '/d', host: '0.0.0.0', port: 9000, baseUrl: 'https://localhost:9000', ssaIssuer: 'X' });
    expect(() => loadSandboxConfig({ DCR_SANDBOX_PORT: 'eighty' })).toThrow(/DCR_SANDBOX_PORT/);
    // the benchmark's no-store directory mode
    expect(loadSandboxConfig({ DCR_SANDBOX_JWKS_CACHE_CONTROL: 'no-store' })).toMatchObject({ jwksCacheControl: 'no-store' });
    expect(() => loadSandboxConfig({ DCR_SANDBOX_JWKS_CACHE_CONTROL: 'no-store\r\nx: y' })).toThrow(/DCR_SANDBOX_JWKS_CACHE_CONTROL/);
    expect(() => loadSandboxConfig({ DCR_SANDBOX_BASE_URL: 'http://x' })).toThrow(/DCR_SANDBOX_BASE_URL/);
  });

  it('starts, logs one line with its URL, serves, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, DCR_DATA_DIR: tmp.path, DCR_SANDBOX_PORT: String(port), DCR_SANDBOX_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
      expect(stdout.trim().split('\n')).toHaveLength(1);
      const ca = await readFile(join(tmp.path, 'sandbox', 'ca.crt.pem'), 'utf8');
      const res = await httpsGet(`https://localhost:${port}/directory/jwks`, { ca });
      expect(res.status).toBe(200);
      expect(stdout + stderr).not.toMatch(/PRIVATE KEY/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('stops with one clear line on invalid configuration', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, DCR_DATA_DIR: tmp.path, DCR_SANDBOX_PORT: '99999' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^configuration error: DCR_SANDBOX_PORT: /);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
