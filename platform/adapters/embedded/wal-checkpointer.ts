import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Moves SQLite's WAL checkpoints off the event loop. The main connection runs with
 * `wal_autocheckpoint=0`; this worker thread holds a connection of its own and runs a PASSIVE
 * checkpoint every `intervalMs` (PASSIVE never blocks the writer, and the checkpoint fsyncs the WAL
 * and the database file itself, so durability does not depend on it); past `maxWalPages` a TRUNCATE
 * checkpoint at a pause in the writes (it blocks the writer), or under steady writes a RESTART once
 * everything is copied, keeps the WAL from growing without end. Without it, every ~1000 WAL
 * pages a COMMIT on the event loop would copy them to the database file and fsync twice.
 *
 * The worker is plain CommonJS evaluated from a string, so it runs the same under tsx, vitest and
 * the compiled build; it loads better-sqlite3 from the path this module resolves.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const lastWrite = new Float64Array(workerData.lastWrite);
let stopping = false;
const tick = () => {
  if (stopping) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under steady writes a PASSIVE checkpoint rarely ends with every frame copied at the moment a
    // writer starts, and only then does the writer start the WAL over. RESTART and TRUNCATE block the
    // writer (whose busy handler then sleeps on the event loop) while they copy what is left, and
    // TRUNCATE also while the file is cut, which for a WAL grown large is slow in itself (freeing its
    // cached pages: 0.94 s for 1.2 GB). So: past the limit, once the writer has been idle a moment,
    // TRUNCATE; past eight times the limit under steady writes, RESTART, and only right after a
    // PASSIVE copied every frame, so that it copies only what came meanwhile and cuts nothing (its
    // fsync remains: ≈ 0.5 s right after a 1.2 GB burst, bench/wal-burst.ts); the writer then reuses
    // the file from its start, and the next pause truncates it.
    const idleMs = Date.now() - lastWrite[0];
    if (r && r.log >= workerData.maxWalPages && idleMs >= workerData.idleMs) {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } else if (r && r.log >= workerData.maxWalPages * 8 && r.checkpointed >= r.log) {
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
  timer = setTimeout(tick, workerData.intervalMs);
};
let timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', () => {
  stopping = true;
  clearTimeout(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer {
  /** When the writer last committed (epoch ms), shared with the worker. */
  readonly #lastWrite = new Float64Array(new SharedArrayBuffer(8));
  readonly #worker: Worker;
  readonly #exited: Promise<unknown>;
  #stopped = false;

  /**
   * @param options.intervalMs between PASSIVE checkpoints (250)
   * @param options.maxWalPages WAL size (pages) past which a TRUNCATE checkpoint brings it back to zero once
   *   the writer is idle for `idleMs` (100); at eight times that under steady writes, a RESTART once a
   *   PASSIVE copied every frame (16384 ≈ 64 MiB)
   */
  constructor(databaseFile: string, options: { intervalMs?: number; maxWalPages?: number; idleMs?: number; onError?: (message: string) => void } = {}) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module,
        file: databaseFile,
        intervalMs: options.intervalMs ?? 250,
        maxWalPages: options.maxWalPages ?? 16_384,
        idleMs: options.idleMs ?? 100,
        lastWrite: this.#lastWrite.buffer,
      },
    });
    this.#exited = once(this.#worker, 'exit');
    this.#worker.on('message', (m: { error?: string }) => {
      if (m.error) options.onError?.(m.error);
    });
    this.#worker.on('error', (error) => options.onError?.(error.message));
    this.#worker.on('exit', (code) => {
      if (!this.#stopped) options.onError?.(`the checkpoint worker exited (code ${code})`);
    });
    // Never keeps a process alive on its own.
    this.#worker.unref();
  }

  /** The writer committed (called by the group commit; one store to shared memory). */
  written(): void {
    this.#lastWrite[0] = Date.now();
  }

  /** A last checkpoint, then the worker's connection is closed. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Held by the worker until it has run its last checkpoint and closed its connection: unref'd,
    // a process with nothing else left (a script's last `await db.close()`) would exit first.
    this.#worker.ref();
    this.#worker.postMessage('stop');
    await this.#exited;
  }
}
