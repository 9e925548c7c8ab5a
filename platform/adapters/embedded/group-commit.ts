import type Database from 'better-sqlite3';
import { DcrError } from '../../../core/errors/dcr-error.js';

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** The batch a write joined was rolled back (the commit failed, or SQLite aborted the transaction). */
export class BatchRolledBackError extends DcrError {
  readonly code = 'ERR_EMBEDDED_BATCH_ROLLED_BACK';
  constructor(options?: { cause?: unknown }) {
    super('the embedded database rolled back a write batch; nothing in it was stored', options);
  }
}

/**
 * Making committed data durable failed (fsync error). The database stops taking writes: after a
 * failed fsync the kernel may have dropped the pages, so no later success could be trusted
 * (fail-stop; a restart recovers from what is on disk).
 */
export class DurabilityError extends DcrError {
  readonly code = 'ERR_EMBEDDED_NOT_DURABLE';
  constructor(options?: { cause?: unknown }) {
    super('the embedded database could not make committed writes durable (fsync failed); it no longer accepts writes', options);
  }
}

export interface GroupCommitOptions {
  /**
   * Makes everything committed so far durable (the WAL's fsync, off the event loop). Without it a
   * batch counts as durable at COMMIT (what SQLite's own `synchronous` setting makes of it).
   */
  sync?: () => Promise<void>;
  /** Called after each COMMIT with the number of waiters the batch carried. */
  onCommit?: (writes: number) => void;
}

/**
 * Group commit for the embedded SQLite database. Every write made during one turn of the event loop
 * joins one transaction (`BEGIN IMMEDIATE`), committed in the check phase that follows; then one
 * fsync of the WAL, on the libuv thread pool, makes it durable while the event loop goes on. Waiters
 * are answered only once their batch is durable, so nothing is acknowledged (to a TPP, a queue, the
 * next stage) before it is on disk — the guarantee of `synchronous=FULL`, with one fsync per batch
 * instead of one per write, and none of them blocking the event loop. A crash before that loses only
 * writes nobody was told about, as a crash just before a per-write commit would.
 *
 * Each write is atomic on its own inside the batch: a transaction function (better-sqlite3's
 * `db.transaction`) becomes a SAVEPOINT when a batch is open, and a failing statement is undone by
 * SQLite alone. If SQLite aborts the whole transaction (disk full, I/O error) or the COMMIT fails,
 * every waiter of the batch is rejected with {@link BatchRolledBackError}.
 *
 * Reads see the open batch (one connection), so a read whose result leaves the process must wait
 * until what it saw is durable: {@link observed}. A write names the record it changes (a key); a read
 * of one record waits only while a batch that wrote that record is not yet durable, so under load a
 * read of settled data does not queue behind other records' writes.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  readonly #sync: (() => Promise<void>) | undefined;
  readonly #onCommit: ((writes: number) => void) | undefined;
  #open = false;
  /** Waiters of the open batch. */
  #waiters: Waiter[] = [];
  /** Waiters of committed batches, for the next fsync. */
  #unsynced: Waiter[] = [];
  #syncing: Promise<void> | undefined;
  /** Waiters answered by the fsync in progress, and the last batch it covers. */
  #syncingWaiters: Waiter[] = [];
  #syncingBatch = 0;
  #broken: DurabilityError | undefined;
  /** Batches are numbered; `#durableBatch` and all before it are durable. */
  #batch = 0;
  #committedBatch = 0;
  #durableBatch = 0;
  /** Records (keys) written by batches that are not durable yet, with the last batch that wrote each. */
  readonly #dirty = new Map<string, number>();
  /** Why the last batch that carried writes was rolled back (disk full, I/O error), until one commits. */
  #writeFailure: BatchRolledBackError | undefined;
  #rolledBackBatches = 0;

  constructor(db: Database.Database, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#sync = options.sync;
    this.#onCommit = options.onCommit;
  }

  /**
   * Runs `write` in the open batch (opening one) and resolves with its result once the batch is
   * durable. `key` names the record it writes, for {@link observed} reads of that record.
   */
  durable<T>(write: () => T, key?: string): Promise<T> {
    let value: T;
    try {
      value = this.#inBatch(write);
    } catch (error) {
      return Promise.reject(error);
    }
    if (key !== undefined) this.#dirty.set(key, this.#batch);
    return new Promise<T>((resolve, reject) => {
      this.#waiters.push({ resolve: () => resolve(value), reject });
    });
  }

  /**
   * Runs `write` in the open batch without waiting for it to be durable. For writes whose loss in a
   * crash is harmless because durable state redoes them (a job claim, a job's completion, an outbox
   * mark, a consumer offset): they commit with the batch or are lost with it.
   */
  lazy<T>(write: () => T): T {
    return this.#inBatch(write);
  }

  /**
   * Runs `read` now and returns its result once everything it could have seen is durable. With a
   * `key` (a read of that one record): at once unless a batch that wrote the record is not durable
   * yet, else once it is. Without: at once when every write is durable, else after the open batch (or
   * the last committed one) is.
   */
  observed<T>(read: () => T, key?: string): Promise<T> {
    if (this.#broken) return Promise.reject(this.#broken);
    const value = read();
    const queue = this.#queueFor(key !== undefined ? this.#dirty.get(key) : this.#open ? this.#batch : this.#committedBatch);
    if (!queue) return Promise.resolve(value);
    const answered = new Promise<T>((resolve, reject) => {
      queue.push({ resolve: () => resolve(value), reject });
    });
    // A batch of lazy writes alone commits without an fsync: one is needed now for what this read saw.
    if (queue === this.#unsynced) this.#startSync();
    return answered;
  }

  /** The waiters to join to learn that `batch` is durable; none when it already is. */
  #queueFor(batch: number | undefined): Waiter[] | undefined {
    if (batch === undefined || batch <= this.#durableBatch) return undefined;
    if (batch > this.#committedBatch) return this.#open ? this.#waiters : undefined;
    // Committed: answered by the fsync in progress if it covers the batch, else by the next one.
    return this.#syncing && batch <= this.#syncingBatch ? this.#syncingWaiters : this.#unsynced;
  }

  /**
   * Why writes are not being stored now, if they are not: the fsync failure that stopped the database
   * (for good), or the roll-back of the last batch (SQLite could not write it: `SQLITE_FULL` when the
   * disk is full, an I/O error), until a batch of durable writes commits again. Readiness reports it.
   */
  get writeFailure(): Error | undefined {
    return this.#broken ?? this.#writeFailure;
  }

  /** Batches rolled back as a whole since start (each one's writes were rejected, none stored). */
  get rolledBackBatches(): number {
    return this.#rolledBackBatches;
  }

  /** Commits the open batch now and waits until everything committed is durable (before closing). */
  async flush(): Promise<void> {
    if (this.#open) this.#commit();
    while (this.#syncing) await this.#syncing;
  }

  #inBatch<T>(write: () => T): T {
    if (this.#broken) throw this.#broken;
    if (!this.#open) {
      this.#db.exec('BEGIN IMMEDIATE');
      this.#open = true;
      this.#batch += 1;
      setImmediate(() => this.#commit());
    }
    try {
      return write();
    } catch (error) {
      // SQLite rolls the whole transaction back on some errors (SQLITE_FULL, SQLITE_IOERR, …).
      if (!this.#db.inTransaction) this.#rolledBack(error);
      throw error;
    }
  }

  #commit(): void {
    if (!this.#open) return;
    if (!this.#db.inTransaction) return this.#rolledBack(undefined);
    if (this.#broken) {
      // Opened before the failed fsync: nothing more is committed on a database that cannot be trusted.
      this.#db.exec('ROLLBACK');
      return this.#rolledBack(this.#broken);
    }
    try {
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      return this.#rolledBack(error);
    }
    const waiters = this.#waiters;
    this.#open = false;
    this.#waiters = [];
    this.#committedBatch = this.#batch;
    // A batch of lazy writes alone may have changed nothing; one with durable writes shows writes work again.
    if (waiters.length > 0) this.#writeFailure = undefined;
    this.#onCommit?.(waiters.length);
    if (!this.#sync) {
      this.#madeDurable(this.#committedBatch);
      for (const w of waiters) w.resolve();
      return;
    }
    this.#unsynced.push(...waiters);
    this.#startSync();
  }

  /** One fsync at a time; batches committed meanwhile share the next one. */
  #startSync(): void {
    if (this.#syncing || this.#unsynced.length === 0 || !this.#sync) return;
    const covered = this.#unsynced;
    const upTo = this.#committedBatch;
    this.#unsynced = [];
    this.#syncingWaiters = covered;
    this.#syncingBatch = upTo;
    this.#syncing = this.#sync().then(
      () => {
        this.#syncing = undefined;
        this.#syncingWaiters = [];
        this.#madeDurable(upTo);
        for (const w of covered) w.resolve();
        this.#startSync();
      },
      (error: unknown) => {
        this.#syncing = undefined;
        this.#syncingWaiters = [];
        this.#broken = new DurabilityError({ cause: error });
        for (const w of [...covered, ...this.#unsynced]) w.reject(this.#broken);
        this.#unsynced = [];
      },
    );
  }

  /** Batches up to `batch` are durable: their records need no wait any more. */
  #madeDurable(batch: number): void {
    this.#durableBatch = batch;
    for (const [key, written] of this.#dirty) if (written <= batch) this.#dirty.delete(key);
  }

  #rolledBack(cause: unknown): void {
    // Its records hold what an earlier batch wrote, maybe not durable yet: wait as for the last one committed.
    for (const [key, written] of this.#dirty) if (written === this.#batch) this.#dirty.set(key, this.#committedBatch);
    const waiters = this.#waiters;
    this.#open = false;
    this.#waiters = [];
    const error = new BatchRolledBackError({ cause });
    this.#rolledBackBatches += 1;
    this.#writeFailure = error;
    for (const w of waiters) w.reject(error);
  }
}
