import type Database from 'better-sqlite3';

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** The batch a write joined was rolled back (the commit failed, or SQLite aborted the transaction). */
export class BatchRolledBackError extends Error {
  override name = 'BatchRolledBackError';
  readonly code = 'ERR_EMBEDDED_BATCH_ROLLED_BACK';
  constructor(options?: { cause?: unknown }) {
    super('the embedded database rolled back a write batch; nothing in it was stored', options);
  }
}

/**
 * Group commit for the embedded SQLite database. Every write made during one turn of the event loop
 * joins one transaction (`BEGIN IMMEDIATE`), committed in the check phase that follows: one WAL
 * fsync (`synchronous=FULL`) for all of them instead of one each. Durability is unchanged:
 * {@link durable} resolves only after the COMMIT, so nothing is acknowledged (to a TPP, to a queue,
 * to the next stage) before it is on disk; a crash before the COMMIT loses only writes nobody was
 * told about, exactly as a crash just before a per-write commit would.
 *
 * Each write is atomic on its own inside the batch: a transaction function (better-sqlite3's
 * `db.transaction`) becomes a SAVEPOINT when a batch is open, and a failing statement is undone by
 * SQLite alone. If SQLite aborts the whole transaction (disk full, I/O error) or the COMMIT fails,
 * every waiter of the batch is rejected with {@link BatchRolledBackError}.
 *
 * Reads see the open batch (one connection), so a read whose result leaves the process must wait for
 * the batch it saw: {@link observed}.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  #open = false;
  #waiters: Waiter[] = [];
  #onCommit: ((writes: number) => void) | undefined;

  constructor(db: Database.Database, options: { onCommit?: (writes: number) => void } = {}) {
    this.#db = db;
    this.#onCommit = options.onCommit;
  }

  /** Runs `write` in the open batch (opening one) and resolves with its result once the batch is durable. */
  durable<T>(write: () => T): Promise<T> {
    let value: T;
    try {
      value = this.#inBatch(write);
    } catch (error) {
      return Promise.reject(error);
    }
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
   * Runs `read` now and returns its result once everything it could have seen is durable: at once
   * when no batch is open, else after the open batch commits (rejected if it is rolled back).
   */
  observed<T>(read: () => T): Promise<T> {
    const value = read();
    if (!this.#open) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => {
      this.#waiters.push({ resolve: () => resolve(value), reject });
    });
  }

  /** Commits the open batch now (before closing the database). */
  flush(): void {
    if (this.#open) this.#commit();
  }

  #inBatch<T>(write: () => T): T {
    if (!this.#open) {
      this.#db.exec('BEGIN IMMEDIATE');
      this.#open = true;
      setImmediate(() => this.#commit());
    }
    try {
      return write();
    } catch (error) {
      // SQLite rolls the whole transaction back on some errors (SQLITE_FULL, SQLITE_IOERR, …).
      if (!this.#db.inTransaction) this.#fail(error);
      throw error;
    }
  }

  #commit(): void {
    if (!this.#open) return;
    const waiters = this.#waiters;
    if (!this.#db.inTransaction) return this.#fail(undefined);
    try {
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      return this.#fail(error);
    }
    this.#open = false;
    this.#waiters = [];
    this.#onCommit?.(waiters.length);
    for (const w of waiters) w.resolve();
  }

  #fail(cause: unknown): void {
    const waiters = this.#waiters;
    this.#open = false;
    this.#waiters = [];
    const error = new BatchRolledBackError({ cause });
    for (const w of waiters) w.reject(error);
  }
}
