import { chmodSync, closeSync, existsSync, fsync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IN_FLIGHT_STATUSES } from '../../../core/domain/registration.js';
import { DataDirLock } from './data-dir-lock.js';
import { GroupCommit } from './group-commit.js';
import { WalCheckpointer } from './wal-checkpointer.js';

/** The embedded state database: the SQLite connection and the group commit every adapter writes through. */
export class EmbeddedDatabase {
  readonly sqlite: Database.Database;
  readonly commits: GroupCommit;
  readonly #walFd: number;
  readonly #checkpointer: WalCheckpointer;
  readonly #lock: DataDirLock | undefined;

  constructor(sqlite: Database.Database, file: string, checkpoints: { intervalMs?: number; maxWalPages?: number; idleMs?: number } = {}, lock?: DataDirLock) {
    this.sqlite = sqlite;
    this.#lock = lock;
    const walFile = `${file}-wal`;
    this.#walFd = openSync(walFile, 'a', 0o600); // created if SQLite has not yet (an empty WAL is no WAL to it)
    chmodSync(walFile, 0o600);
    const fd = this.#walFd;
    // Checkpoints on a worker thread; should it fail, this connection checkpoints again itself.
    sqlite.pragma('wal_autocheckpoint = 0');
    const checkpointer = new WalCheckpointer(file, {
      ...checkpoints,
      onError: () => {
        if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
      },
    });
    this.#checkpointer = checkpointer;
    this.commits = new GroupCommit(sqlite, {
      // fsync(2) flushes the file (the inode), whichever descriptor wrote it.
      sync: () => new Promise<void>((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve()))),
      onCommit: () => checkpointer.written(),
    });
  }

  /** Commits the open write batch, waits until it is durable, then closes the connection. */
  async close(): Promise<void> {
    await this.commits.flush();
    await this.#checkpointer.stop();
    this.sqlite.close();
    closeSync(this.#walFd);
    this.#lock?.release();
  }
}

/**
 * Opens (and migrates) the embedded state database: one SQLite file under `DCR_DATA_DIR`, in WAL
 * mode. A state change is acknowledged only after the WAL holding it is fsynced, so it survives a
 * crash or a power loss: SQLite runs with `synchronous=NORMAL` (no fsync inside COMMIT, which would
 * block the event loop) and the group commit fsyncs the WAL itself on the thread pool after each
 * batch — `synchronous=FULL`'s guarantee, once per batch (group-commit.ts). WAL checkpoints run on
 * a worker thread with a connection of its own (wal-checkpointer.ts).
 * SQLite gives the embedded mode real transactions (state + outbox + job in one commit) with no
 * server to run; better-sqlite3 is the maintained, typed, synchronous binding. Writes go through
 * {@link GroupCommit}: one fsync per event-loop turn, acknowledged only once durable.
 */
export function openEmbeddedDatabase(dataDir: string, checkpoints: { intervalMs?: number; maxWalPages?: number; idleMs?: number } = {}): EmbeddedDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // One process per data directory (data-dir-lock.ts); released by close(), or here if opening fails.
  const lock = DataDirLock.acquire(dataDir);
  try {
    return openLocked(dataDir, checkpoints, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

function openLocked(dataDir: string, checkpoints: { intervalMs?: number; maxWalPages?: number; idleMs?: number }, lock: DataDirLock): EmbeddedDatabase {
  const file = join(dataDir, 'dcr.sqlite');
  // Owner-only, created so before SQLite opens it: SQLite gives its -wal and -shm files the mode of
  // the database file. Files of an existing database are tightened too (SECURITY.md "Data at rest").
  closeSync(openSync(file, 'a', 0o600));
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  // Statement journals in memory. Every write inside a group-commit batch is a SAVEPOINT
  // (group-commit.ts), and SQLite keeps the pages a savepoint may have to restore in a statement
  // journal that spills to a temporary file past 64 KiB: with the default `temp_store` that was a
  // temporary file created, written and deleted for most batches under load (`strace -e pwrite64`
  // of `npm run bench:statements`: 20 MB to `etilqs_*` files next to 21 MB of WAL). A batch is
  // bounded (one event-loop turn), so the memory is too.
  db.pragma('temp_store = MEMORY');
  db.exec(`
    CREATE TABLE IF NOT EXISTS registrations (
      id TEXT PRIMARY KEY,
      submission_key TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL,
      submitted_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      last_error TEXT,
      version INTEGER NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS registrations_status ON registrations (status, updated_at);
    CREATE INDEX IF NOT EXISTS registrations_submitted ON registrations (submitted_at);
    -- the ops list filtered by status, newest first, without sorting every matching document
    CREATE INDEX IF NOT EXISTS registrations_status_submitted ON registrations (status, submitted_at DESC, id DESC);
    -- the registration's large members (REGISTRATION_PARTS), one row each, written only when they change;
    -- a rowid table (rows appended in write order) with a small index on (id, part): large rows in a
    -- WITHOUT ROWID table keyed by random ids would be moved around by every page split
    CREATE TABLE IF NOT EXISTS registration_parts (
      id TEXT NOT NULL,
      part TEXT NOT NULL,
      value TEXT NOT NULL,
      PRIMARY KEY (id, part)
    );
    CREATE TABLE IF NOT EXISTS clients (
      client_id TEXT PRIMARY KEY,
      request_id TEXT NOT NULL,
      status TEXT NOT NULL,
      version INTEGER NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      aggregate TEXT NOT NULL,
      aggregate_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      doc TEXT NOT NULL,
      published_at TEXT
    );
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (published_at, kind, seq);
    CREATE TABLE IF NOT EXISTS jtis (
      key TEXT PRIMARY KEY,
      request_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS leases (
      name TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS jobs (
      id TEXT PRIMARY KEY,
      stage TEXT NOT NULL,
      data TEXT NOT NULL,
      state TEXT NOT NULL,
      run_at INTEGER NOT NULL,
      attempts_made INTEGER NOT NULL DEFAULT 0,
      locked_until INTEGER,
      last_error TEXT,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (stage, state, run_at);
    CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL,
      topic TEXT NOT NULL,
      key TEXT NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_topic ON events (topic, seq);
    -- an event's place in the log, by id (the events barrier: platform/adapters/authorization-server/events.ts)
    CREATE INDEX IF NOT EXISTS events_id ON events (id);
    -- one row, rewritten by the readiness check after a write batch was rolled back (sqlite-store.ts ping)
    CREATE TABLE IF NOT EXISTS write_probe (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      at INTEGER NOT NULL,
      room BLOB
    );
    CREATE TABLE IF NOT EXISTS consumer_offsets (
      group_id TEXT NOT NULL,
      topic TEXT NOT NULL,
      seq INTEGER NOT NULL,
      PRIMARY KEY (group_id, topic)
    );
  `);
  migrate(db);
  for (const f of [file, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  // The schema statements above created the WAL file; the group commit fsyncs it.
  return new EmbeddedDatabase(db, file, checkpoints, lock);
}

/**
 * The registration members stored as rows of their own in `registration_parts` rather than inside
 * the record's `doc`: large, and written once or twice in a registration's life (the request and the
 * certificate at intake, the verifier's output, the outcome), while the record itself is rewritten at
 * every transition. Keeping them out of `doc` makes each transition rewrite ≈ 1 kB, not ≈ 20 kB.
 */
export const REGISTRATION_PARTS = ['body', 'certificate', 'verified', 'outcome'] as const;

/** Schema changes after the first release, by `PRAGMA user_version`. */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version < 1) {
    // 1: the large members move out of `doc` into `registration_parts`.
    db.transaction(() => {
      for (const part of REGISTRATION_PARTS) {
        // A null member stays in `doc` (the store keeps nulls there).
        const stored = `doc -> '$.${part}' IS NOT NULL AND doc -> '$.${part}' != 'null'`;
        db.prepare(`INSERT OR IGNORE INTO registration_parts (id, part, value) SELECT id, '${part}', doc -> '$.${part}' FROM registrations WHERE ${stored}`).run();
        db.prepare(`UPDATE registrations SET doc = json_remove(doc, '$.${part}') WHERE ${stored}`).run();
      }
      db.pragma('user_version = 1');
    })();
  }
  if (version < 2) {
    // 2: the submitter's identity as a column (the per-TPP quota counts its requests in progress),
    // and the outbox by aggregate (retention purges only records with nothing left to publish).
    db.transaction(() => {
      db.exec('ALTER TABLE registrations ADD COLUMN tpp TEXT');
      db.exec(`UPDATE registrations SET tpp = (SELECT p.value ->> '$.tppIdentity' FROM registration_parts p WHERE p.id = registrations.id AND p.part = 'certificate')`);
      db.exec('CREATE INDEX registrations_tpp ON registrations (tpp, status)');
      db.exec('CREATE INDEX outbox_aggregate ON outbox (aggregate_id, published_at)');
      db.pragma('user_version = 2');
    })();
  }
  if (version < 3) {
    // 3: one registration per software (profiles with `registrationsPerSoftware: 'one'`): the
    // software key of each active client, unique; NULL (many NULLs allowed) once deleted or unused.
    db.transaction(() => {
      db.exec('ALTER TABLE clients ADD COLUMN active_software TEXT');
      db.exec(`UPDATE clients SET active_software = doc ->> '$.activeSoftwareKey' WHERE status = 'active'`);
      db.exec('CREATE UNIQUE INDEX clients_active_software ON clients (active_software)');
      db.pragma('user_version = 3');
    })();
  }
  if (version < 4) {
    // 4: the per-TPP quota's index holds only the requests in progress (a partial index on the
    // quota's own condition, IN_FLIGHT_STATUSES): it stays a few pages however many registrations are
    // kept, and a registration leaves it when it settles instead of moving to its TPP's settled
    // entries, which every transition of every TPP dirtied on a page of its own.
    db.transaction(() => {
      db.exec('DROP INDEX IF EXISTS registrations_tpp');
      db.exec(`CREATE INDEX registrations_tpp_in_flight ON registrations (tpp, status) WHERE ${IN_FLIGHT_CONDITION}`);
      db.pragma('user_version = 4');
    })();
  }
  if (version < 5) {
    // 5: when retention compacted a request, as a column, and a partial index of the registered
    // requests not compacted yet (COMPACTABLE_CONDITION): a retention pass finds the next ones to
    // compact without reading, and parsing the record of, every request it compacted before (on a
    // backlog of 100 000 the rounds of a pass grew from 49 to 86 ms on the event loop; README
    // "Retention"). Filling the column reads each registered record once, here.
    db.transaction(() => {
      db.exec('ALTER TABLE registrations ADD COLUMN compacted_at TEXT');
      db.exec(`UPDATE registrations SET compacted_at = doc ->> '$.compactedAt' WHERE status = 'registered' AND doc ->> '$.compactedAt' IS NOT NULL`);
      db.exec(`CREATE INDEX registrations_compactable ON registrations (updated_at) WHERE ${COMPACTABLE_CONDITION}`);
      db.pragma('user_version = 5');
    })();
  }
  if (version < 6) {
    // 6: clients by status. The delete sweep asks for the clients left `deleting` (a handful) at every
    // reconcile interval; without an index that read every client's document: ≈ 9 s on the event
    // loop at 1M clients (`npm run bench -- --scenario scale`).
    db.exec('CREATE INDEX IF NOT EXISTS clients_status ON clients (status)');
    db.pragma('user_version = 6');
  }
}

/** Registered requests that retention has not compacted yet; the condition of a partial index and of the query it serves. */
export const COMPACTABLE_CONDITION = "status = 'registered' AND compacted_at IS NULL";

/** The per-TPP quota's condition, shared by its query and its partial index (SQLite uses the index only for the same terms). */
export const IN_FLIGHT_CONDITION = `status IN (${IN_FLIGHT_STATUSES.map((status) => `'${status}'`).join(', ')})`;
