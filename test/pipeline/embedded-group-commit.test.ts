import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { BatchRolledBackError, DurabilityError, GroupCommit } from '../../platform/adapters/embedded/group-commit.js';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';

describe('GroupCommit (embedded SQLite)', () => {
  let dir: string;
  let db: Database.Database;
  let other: Database.Database;
  let commits: GroupCommit;
  let batches: number[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-group-commit-'));
    db = new Database(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.exec(`CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);`);
    // A second connection sees only what is committed.
    other = new Database(join(dir, 'db.sqlite'), { readonly: true });
    batches = [];
    commits = new GroupCommit(db, { onCommit: (n) => batches.push(n) });
  });
  afterEach(async () => {
    await commits.flush();
    other.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const insert = (k: string, v: number) => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v);
  const committed = (k: string) => other.prepare<[string], { v: number }>('SELECT v FROM t WHERE k = ?').get(k)?.v;

  it('commits the writes of one event-loop turn together and resolves each only once it is committed', async () => {
    const seenAtResolution: Array<number | undefined> = [];
    const writes = ['a', 'b', 'c', 'd'].map((k, i) =>
      commits.durable(() => insert(k, i)).then(() => {
        seenAtResolution.push(committed(k));
      }),
    );
    // Nothing is visible to another connection before the batch commits.
    expect(committed('a')).toBeUndefined();
    await Promise.all(writes);
    expect(seenAtResolution).toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([4]);
  });

  it('keeps each write atomic inside the batch: a failing transaction is undone alone', async () => {
    const good = commits.durable(() => insert('good', 1));
    const bad = commits.durable(
      db.transaction(() => {
        insert('half', 2);
        insert('good', 3); // primary key conflict: the whole transaction function is rolled back
      }),
    );
    await expect(bad).rejects.toThrow(/UNIQUE constraint failed/);
    await good;
    expect(committed('good')).toBe(1);
    expect(committed('half')).toBeUndefined();
  });

  it('rejects every waiter of a batch whose COMMIT fails, and nothing of it is stored', async () => {
    const a = commits.durable(() => insert('a', 1));
    // A deferred foreign key is checked at COMMIT: the batch cannot commit.
    const orphan = commits.durable(() => db.prepare('INSERT INTO child (id, parent) VALUES (1, 42)').run());
    const read = commits.observed(() => db.prepare<[string], { v: number }>('SELECT v FROM t WHERE k = ?').get('a'));
    for (const p of [a, orphan, read]) await expect(p).rejects.toBeInstanceOf(BatchRolledBackError);
    expect(committed('a')).toBeUndefined();
    expect(db.inTransaction).toBe(false);
    // The next batch works.
    await commits.durable(() => insert('b', 2));
    expect(committed('b')).toBe(2);
  });

  it('answers a read that saw an open batch only after that batch is committed', async () => {
    void commits.durable(() => insert('x', 7));
    let resolvedWith: number | undefined;
    const read = commits
      .observed(() => db.prepare<[string], { v: number }>('SELECT v FROM t WHERE k = ?').get('x')?.v)
      .then((v) => {
        resolvedWith = committed('x');
        return v;
      });
    expect(await read).toBe(7);
    expect(resolvedWith).toBe(7);
  });

  it('answers a read at once when no batch is open, and lazy writes commit with the next batch', async () => {
    commits.lazy(() => insert('lazy', 5));
    expect(committed('lazy')).toBeUndefined();
    await commits.durable(() => insert('after', 6));
    expect(committed('lazy')).toBe(5);
    expect(batches).toEqual([1]);
    expect(await commits.observed(() => 'no batch open')).toBe('no batch open');
  });

  describe('with an fsync of its own', () => {
    /** A sync whose completion the test decides. */
    const controlledSync = () => {
      const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
      return {
        calls,
        sync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
      };
    };
    const until = async (condition: () => boolean) => {
      for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
      expect(condition()).toBe(true);
    };

    it('answers writes and reads only after the fsync that covers their batch; batches committed meanwhile share the next one', async () => {
      const s = controlledSync();
      const gc = new GroupCommit(db, { sync: s.sync });
      const answered: string[] = [];
      void gc.durable(() => insert('one', 1)).then(() => answered.push('one'));
      await until(() => s.calls.length === 1); // committed, fsync running
      expect(committed('one')).toBe(1);
      expect(answered).toEqual([]);
      // A read now sees committed-but-not-yet-durable data: it waits for the fsync in progress.
      void gc.observed(() => 'read').then((v) => answered.push(v));
      void gc.durable(() => insert('two', 2)).then(() => answered.push('two'));
      void gc.durable(() => insert('three', 3)).then(() => answered.push('three'));
      await new Promise((r) => setImmediate(r));
      expect(s.calls.length).toBe(1); // one fsync at a time
      s.calls[0]?.resolve();
      await until(() => answered.includes('one'));
      expect(answered).toEqual(['one', 'read']);
      await until(() => s.calls.length === 2);
      s.calls[1]?.resolve();
      await until(() => answered.length === 4);
      expect(answered.slice(2).sort()).toEqual(['three', 'two']);
      await gc.flush();
    });

    it('answers a read of one record at once unless a batch that wrote that record is not durable yet', async () => {
      const s = controlledSync();
      const gc = new GroupCommit(db, { sync: s.sync });
      const answered: string[] = [];
      void gc.durable(() => insert('a', 1), 'a').then(() => answered.push('write a'));
      // The batch is open: a read of another record does not wait for it, a read of 'a' does.
      void gc.observed(() => 'b', 'b').then((v) => answered.push(`read ${v}`));
      void gc.observed(() => 'a', 'a').then((v) => answered.push(`read ${v}`));
      await until(() => answered.includes('read b'));
      await until(() => s.calls.length === 1); // committed, fsync running
      expect(answered).toEqual(['read b']);
      void gc.observed(() => 'a again', 'a').then((v) => answered.push(`read ${v}`));
      void gc.observed(() => 'c', 'c').then((v) => answered.push(`read ${v}`));
      await until(() => answered.includes('read c'));
      expect(answered).toEqual(['read b', 'read c']);
      s.calls[0]?.resolve();
      await until(() => answered.length === 5);
      expect(answered.slice(2).sort()).toEqual(['read a', 'read a again', 'write a']);
      // Durable now: no further fsync is needed to answer.
      await expect(gc.observed(() => 'later', 'a')).resolves.toBe('later');
      expect(s.calls.length).toBe(1);
      await gc.flush();
    });

    it('starts an fsync for a read that saw a batch of lazy writes alone (committed, never synced)', async () => {
      const s = controlledSync();
      const gc = new GroupCommit(db, { sync: s.sync });
      gc.lazy(() => insert('lazy', 1));
      await new Promise((r) => setImmediate(r)); // committed with no waiter: no fsync yet
      expect(committed('lazy')).toBe(1);
      expect(s.calls.length).toBe(0);
      const read = gc.observed(() => 'seen');
      await until(() => s.calls.length === 1);
      s.calls[0]?.resolve();
      await expect(read).resolves.toBe('seen');
      await gc.flush();
    });

    it('makes a record written by a rolled-back batch wait as for the last committed batch', async () => {
      const s = controlledSync();
      const gc = new GroupCommit(db, { sync: s.sync });
      const answered: string[] = [];
      void gc.durable(() => insert('k', 1), 'k').then(() => answered.push('write k'));
      await until(() => s.calls.length === 1); // batch 1 committed, fsync running
      // Batch 2 writes 'k' again, then SQLite rolls the whole batch back (as on SQLITE_FULL).
      const rewrite = gc.durable(() => insert('k-again', 2), 'k');
      const failing = gc.durable(() => {
        db.exec('ROLLBACK');
        throw new Error('disk full');
      });
      await expect(failing).rejects.toThrow('disk full');
      await expect(rewrite).rejects.toBeInstanceOf(BatchRolledBackError);
      void gc.observed(() => 'k', 'k').then((v) => answered.push(`read ${v}`));
      await new Promise((r) => setImmediate(r));
      expect(answered).toEqual([]); // what 'k' holds (batch 1) is not durable yet
      s.calls[0]?.resolve();
      await until(() => answered.length === 2);
      expect(answered.sort()).toEqual(['read k', 'write k']);
      await gc.flush();
    });

    it('stops taking writes after a failed fsync (fail-stop) and rejects everything not yet durable', async () => {
      const s = controlledSync();
      const gc = new GroupCommit(db, { sync: s.sync });
      const first = gc.durable(() => insert('a', 1));
      await until(() => s.calls.length === 1);
      s.calls[0]?.reject(new Error('EIO'));
      await expect(first).rejects.toBeInstanceOf(DurabilityError);
      await expect(gc.durable(() => insert('b', 2))).rejects.toBeInstanceOf(DurabilityError);
      expect(() => gc.lazy(() => insert('c', 3))).toThrow(DurabilityError);
      await expect(gc.observed(() => 1)).rejects.toBeInstanceOf(DurabilityError);
      expect(committed('b')).toBeUndefined();
    });
  });
});

describe('EmbeddedDatabase', () => {
  it('checkpoints the WAL into the database file from its worker thread, not from the writer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-checkpoint-'));
    const db = openEmbeddedDatabase(dir);
    try {
      expect(db.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const file = join(dir, 'dcr.sqlite');
      const before = statSync(file).size;
      const insert = db.sqlite.prepare('INSERT INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)');
      await db.commits.durable(() => {
        for (let i = 0; i < 5000; i++) insert.run(`k${i}`, `r${i}`, i);
      });
      // The rows reach the database file only through a checkpoint; this connection makes none.
      const deadline = Date.now() + 20_000;
      while (statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statSync(file).size).toBeGreaterThan(before);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('truncates a WAL that grew past its limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-wal-limit-'));
    const db = openEmbeddedDatabase(dir, { intervalMs: 20, maxWalPages: 64 });
    try {
      const wal = join(dir, 'dcr.sqlite-wal');
      const insert = db.sqlite.prepare('INSERT INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)');
      await db.commits.durable(() => {
        for (let i = 0; i < 20_000; i++) insert.run(`k${i}`, `r${i}`.padEnd(100, 'x'), i);
      });
      expect(statSync(wal).size).toBeGreaterThan(64 * 4096);
      const deadline = Date.now() + 20_000;
      while (statSync(wal).size > 64 * 4096 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statSync(wal).size).toBeLessThanOrEqual(64 * 4096);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('under steady writes, a WAL grown past eight times its limit is started over, not cut (no TRUNCATE while the writer is busy)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-wal-restart-'));
    // idleMs beyond the test: the writer is never idle long enough for a TRUNCATE
    const db = openEmbeddedDatabase(dir, { intervalMs: 20, maxWalPages: 64, idleMs: 60_000 });
    try {
      const wal = join(dir, 'dcr.sqlite-wal');
      const insert = db.sqlite.prepare('INSERT INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)');
      await db.commits.durable(() => {
        for (let i = 0; i < 20_000; i++) insert.run(`k${i}`, `r${i}`.padEnd(100, 'x'), i);
      });
      const burst = statSync(wal).size;
      expect(burst).toBeGreaterThan(8 * 64 * 4096);
      // Writes every few milliseconds until the writer has started the WAL over (a new header: its
      // salts, bytes 16-23 of the file, change at every restart), or 20 s.
      const salts = () => {
        const fd = openSync(wal, 'r');
        try {
          const header = Buffer.alloc(8);
          readSync(fd, header, 0, 8, 16);
          return header.toString('hex');
        } finally {
          closeSync(fd);
        }
      };
      const before = salts();
      const deadline = Date.now() + 20_000;
      let n = 0;
      while (salts() === before && Date.now() < deadline) {
        await db.commits.durable(() => insert.run(`s${n++}`, 'y', 1));
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(salts()).not.toBe(before);
      expect(statSync(wal).size).toBeGreaterThanOrEqual(burst); // reused from its start, not cut while the writer waits
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a stage consumer survives a database locked by another connection, then takes its job', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-queue-locked-'));
    const db = openEmbeddedDatabase(dir);
    const errors: unknown[] = [];
    const queue = new SqliteQueue(db, { attempts: 3, baseDelayMs: 10 }, { onError: (e) => errors.push(e) });
    const other = new Database(join(dir, 'dcr.sqlite'));
    try {
      db.sqlite.pragma('busy_timeout = 20');
      await queue.enqueue('verify', 'job-1', { requestId: 'r1', generation: 0 } as never);
      await db.commits.flush();
      other.exec('BEGIN IMMEDIATE'); // holds the write lock: claims fail with SQLITE_BUSY
      let took: (id: string) => void = () => {};
      const taken = new Promise<string>((resolve) => (took = resolve));
      const consumer = queue.consume('verify', async (data) => took((data as { requestId: string }).requestId), { concurrency: 1 });
      const deadline = Date.now() + 10_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(String(errors[0])).toMatch(/locked|busy/i);
      other.exec('COMMIT');
      expect(await taken).toBe('r1');
      await consumer.close();
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await queue.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
