/**
 * Issue 20: a full disk in embedded mode. The data directory is a real, small filesystem (a tmpfs of
 * 16 MiB mounted for this test), filled to ENOSPC by a ballast file, so SQLite fails exactly as it
 * does on a full disk (SQLITE_FULL); deleting the ballast is the space coming back. Mounting needs
 * root (CAP_SYS_ADMIN): elsewhere the test is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../core/domain/registration.js';
import { DependencyUnavailable } from '../../core/errors/dependency-unavailable.js';
import type { StageConsumer } from '../../core/ports/queue.js';
import { BatchRolledBackError } from '../../platform/adapters/embedded/group-commit.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startProvisioner } from '../../services/provisioner/service.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const FINAL = new Set(['registered', 'rejected', 'failed']);

/** Mounts a tmpfs of `size` at a fresh directory; undefined when this process may not mount. */
function mountSmallFilesystem(size: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'dcr-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return dir;
}

/** Writes `file` until the filesystem has no space left (ENOSPC); returns the bytes written. */
function fillDisk(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  try {
    for (;;) {
      try {
        const n = writeSync(fd, chunk);
        written += n;
        if (n < chunk.length) break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // The last partial blocks too: byte by byte until not even one fits.
    const one = Buffer.alloc(512, 0x5a);
    for (;;) {
      try {
        if (writeSync(fd, one) === 0) break;
        written += one.length;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * Empties the WAL (a TRUNCATE checkpoint on a connection of the test's own) and fills the disk in the
 * same synchronous step, so no write of the pipeline (same thread) comes between. Without it the WAL
 * file keeps the space it had, and each time the checkpoint worker has copied every frame the writer
 * starts the WAL over inside that space: writes fit again for a while and readiness comes back while
 * the disk is still full (CI, 2026-12-02: `ready()` 200 right after a 503). With an empty WAL on a full
 * disk every write needs a new block, so every write fails until space returns.
 */
async function emptyWalAndFillDisk(databaseFile: string, ballastFile: string): Promise<number> {
  const db = new Database(databaseFile);
  try {
    db.pragma('busy_timeout = 0');
    for (let attempt = 0; ; attempt++) {
      // Between event-loop turns: the pipeline's group commit has committed its open batch.
      await new Promise((resolve) => setImmediate(resolve));
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number }>;
      if (r?.busy === 0 && statSync(`${databaseFile}-wal`).size === 0) return fillDisk(ballastFile);
      if (attempt >= 200) throw new Error(`the WAL could not be emptied: ${JSON.stringify(r)}`);
    }
  } finally {
    db.close();
  }
}

const mountPoint = mountSmallFilesystem('16m');

describe.skipIf(!mountPoint)('a full disk, embedded mode (real ENOSPC on a 16 MiB tmpfs)', () => {
  const ballast = join(mountPoint ?? '', 'ballast');
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let ops: RunningOps;
  const stages: Array<{ stop(): Promise<void> } | StageConsumer> = [];
  const acknowledged: string[] = [];

  beforeAll(async () => {
    const dataDir = join(mountPoint ?? '', 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // No stages yet: the requests acknowledged before the disk fills wait in the queue, so the
    // stages meet the full disk when they start.
    pipeline = await startTestPipeline({ stages: false, env: { DCR_DATA_DIR: dataDir, DCR_SYNC_WAIT_MS: '0', DCR_ADMIN_TOKEN: 'disk-full-admin-token' } });
    tpp = await pipeline.createTpp('full');
    ops = await startOps(pipeline.rt, { listen: false });
  });
  afterAll(async () => {
    rmSync(ballast, { force: true });
    await Promise.all(stages.map((s) => ('stop' in s ? s.stop() : s.close())));
    await ops?.stop();
    await pipeline?.stop();
    if (mountPoint) {
      spawnSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  const ready = async () => (await ops.app.inject({ method: 'GET', url: '/health/ready' })).statusCode;
  const intakeReady = async () => (await tpp.get('/health/ready')).status;
  const writeHealth = () => {
    const store = pipeline.rt.adapters.store;
    if (!(store instanceof SqliteStore)) throw new Error('not the embedded store');
    return store.writeHealth();
  };
  // A read that saw a batch which was then rolled back is rejected (what it saw was not stored): read again.
  const storedCount = async (): Promise<number> => {
    for (let i = 0; ; i++) {
      try {
        return (await pipeline.rt.adapters.store.listRegistrations({ limit: 100 })).length;
      } catch (error) {
        // The store's adapter boundary hands it over as DependencyUnavailable, the rollback as its cause.
        const rolledBack = error instanceof BatchRolledBackError || (error instanceof DependencyUnavailable && error.cause instanceof BatchRolledBackError);
        if (!rolledBack || i > 20) throw error;
      }
    }
  };
  const registration = (id: string): Promise<Registration | null> => pipeline.rt.adapters.store.getRegistration(id);

  it('acknowledged before: stored; while full: 503 temporarily_unavailable with Retry-After, nothing stored, not ready; stages retry, never fail', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 4; i++) {
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status).toBe(202);
      acknowledged.push(String(res.json().request_id));
    }
    expect(await ready()).toBe(200);

    expect(await emptyWalAndFillDisk(join(mountPoint ?? '', 'data', 'dcr.sqlite'), ballast)).toBeGreaterThan(0);
    // The WAL is empty and the disk full: the first commit needs a new block and SQLite fails it
    // (SQLITE_FULL). Should one still fit (a block the ballast could not use), it is stored and
    // acknowledged as usual, and the next one fails.
    let res;
    let before = 0;
    for (let i = 0; ; i++) {
      before = await storedCount();
      res = await tpp.post(await tpp.sign(tpp.claims()));
      if (res.status !== 202 || i >= 200) break;
      acknowledged.push(String(res.json().request_id));
    }
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await storedCount()).toBe(before);
    // Both services' readiness reports the store cannot take writes.
    expect(await ready()).toBe(503);
    expect(await intakeReady()).toBe(503);

    // The stages start on the full disk: their writes fail; they retry, and nothing becomes `failed`.
    const rt = pipeline.rt;
    stages.push(await startVerifier(rt), startRevocation(rt), await startProvisioner(rt));
    // Until the stages' writes were rolled back again and again (each attempt, about one a second while full).
    const rolledBack = writeHealth().rolledBackBatches;
    const after = await waitFor(async () => writeHealth().rolledBackBatches, (n) => n >= rolledBack + 5);
    expect(after).toBeGreaterThanOrEqual(rolledBack + 5);
    expect(writeHealth().failure).toMatch(/rolled back/);
    for (const id of acknowledged) {
      const r = await registration(id);
      expect(r).not.toBeNull();
      expect(FINAL.has(r?.status ?? '')).toBe(false);
    }
    expect(pipeline.events.some((e) => e.type === 'dcr.registration.failed')).toBe(false);
    expect(await ready()).toBe(503);
  });

  it('when space returns: ready again, new POSTs 201/202, everything acknowledged registered', { timeout: 90_000 }, async () => {
    rmSync(ballast);
    expect(await waitFor(ready, (s) => s === 200)).toBe(200);
    expect(await intakeReady()).toBe(200);
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect([201, 202]).toContain(res.status);
    acknowledged.push(String(res.json().request_id));
    for (const id of acknowledged) {
      const r = await waitFor(() => registration(id), (x) => FINAL.has(x?.status ?? ''), 60_000);
      expect(r?.status).toBe('registered');
      expect(r?.clientId).toBeTruthy();
    }
    expect(pipeline.events.some((e) => e.type === 'dcr.registration.failed')).toBe(false);
  });
});

/** Polls `read` until `done` holds (each poll after the previous answer; bounded). */
async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
