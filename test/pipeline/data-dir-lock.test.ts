/**
 * Issue 20: one process per embedded data directory (dcr.lock), so the embedded queue can give back
 * at start-up every job a crashed process held, at once.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { ConfigurationError } from '../../core/domain/errors.js';

describe('the embedded data directory lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second open while the first holds it, and allows one after close', async () => {
    const first = openEmbeddedDatabase(dir);
    try {
      expect(JSON.parse(await readFile(join(dir, 'dcr.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(() => openEmbeddedDatabase(dir)).toThrow(ConfigurationError);
      expect(() => openEmbeddedDatabase(dir)).toThrow(/DCR_DATA_DIR: .* is in use by process \d+/);
    } finally {
      await first.close();
    }
    const second = openEmbeddedDatabase(dir);
    await second.close();
  });

  it('takes over the lock of a process that died without releasing it (SIGKILL)', async () => {
    // A real pid that is no longer running: a child that has exited.
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    await writeFile(join(dir, 'dcr.lock'), JSON.stringify({ pid: deadPid, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
    const db = openEmbeddedDatabase(dir);
    try {
      expect(JSON.parse(await readFile(join(dir, 'dcr.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      await db.close();
    }
  });

  it('at start-up, jobs a dead process had claimed are waiting again at once, not after their lock lapses', async () => {
    const crashed = openEmbeddedDatabase(dir);
    const queue = new SqliteQueue(crashed, { attempts: 3, baseDelayMs: 10 });
    await queue.enqueue('verify', 'job-1', { requestId: 'r1', generation: 0 });
    await crashed.commits.flush();
    // Claimed by a consumer of the process that then dies (its 60 s lock far from lapsed).
    crashed.sqlite.prepare("UPDATE jobs SET state = 'active', locked_until = ? WHERE id = 'job-1'").run(Date.now() + 60_000);
    await crashed.close();

    const restarted = openEmbeddedDatabase(dir);
    try {
      const again = new SqliteQueue(restarted, { attempts: 3, baseDelayMs: 10 });
      await restarted.commits.flush();
      expect(await again.counts('verify')).toEqual({ waiting: 1, active: 0, delayed: 0 });
      expect(await again.revive('verify', 'job-1', { requestId: 'r1', generation: 0 })).toBe('live');
      expect(await again.revive('verify', 'job-2', { requestId: 'r2', generation: 0 })).toBe('revived');
    } finally {
      await restarted.close();
    }
  });

  it('a script whose last step is `await db.close()` runs it to the end (the checkpoint worker holds the process until it has closed)', async () => {
    const script = join(dir, 'close-last.mts');
    const data = join(dir, 'data');
    const database = join(import.meta.dirname, '..', '..', 'platform', 'adapters', 'embedded', 'database.ts');
    await writeFile(
      script,
      `import { openEmbeddedDatabase } from ${JSON.stringify(database)};
       const db = openEmbeddedDatabase(${JSON.stringify(data)});
       await db.commits.durable(() => db.sqlite.prepare('INSERT INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)').run('k', 'r', 1));
       await db.close();
       process.stdout.write('closed');`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('closed');
    expect(existsSync(join(data, 'dcr.lock'))).toBe(false);
  });
});

