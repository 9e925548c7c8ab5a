/**
 * The directory's mutable state (organisations, software, key and certificate revocations,
 * outage switch), persisted as one JSON file so that several processes (the server, a CLI, tests)
 * share it. Writes are atomic (rename) and serialised by a lock file; reads re-parse the file only
 * when its inode/mtime/size change.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import type { JWK } from 'jose';
import { PRIVATE_FILE_MODE, isErrno, writeFileAtomic } from './fs-util.js';

export type OrgStatus = 'Active' | 'Revoked';
export type SoftwareStatus = 'Active' | 'Inactive';

export interface OrgRecord {
  orgId: string;
  name: string;
  status: OrgStatus;
  createdAt: string;
  revokedAt?: string;
}

export interface SoftwareRecord {
  softwareId: string;
  orgId: string;
  tppName: string;
  status: SoftwareStatus;
  createdAt: string;
  revokedAt?: string;
}

/** A public key published in the software/org JWKS; `revokedAt` moves it to the revoked JWKS. */
export interface PublishedKey {
  kid: string;
  jwk: JWK;
  revokedAt?: string;
}

export interface TppRecord {
  name: string;
  orgId: string;
  softwareId: string;
  signingKey: PublishedKey;
  transportKey: PublishedKey & { serial: string };
  /** Open Finance Brasil: the software's encryption key (`use: enc`). */
  encryptionKey?: PublishedKey;
  createdAt: string;
}

export interface RevokedCertificate {
  /** Lower-case hex serial number. */
  serial: string;
  revokedAt: string;
  tppName?: string;
}

export interface DirectoryState {
  version: 1;
  outage: boolean;
  orgs: Record<string, OrgRecord>;
  software: Record<string, SoftwareRecord>;
  tpps: Record<string, TppRecord>;
  revokedCertificates: RevokedCertificate[];
}

export function emptyState(): DirectoryState {
  return { version: 1, outage: false, orgs: {}, software: {}, tpps: {}, revokedCertificates: [] };
}

const LOCK_STALE_MS = 30_000;
const LOCK_TIMEOUT_MS = 60_000;
const LOCK_RETRY_MS = 15;

interface Fingerprint {
  ino: bigint;
  mtimeNs: bigint;
  size: bigint;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class StateStore {
  readonly file: string;
  readonly lockFile: string;
  #cache: { fp: Fingerprint; state: DirectoryState } | undefined;
  /** In-process queue so one process never waits on its own lock file. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.file = file;
    this.lockFile = `${file}.lock`;
  }

  async exists(): Promise<boolean> {
    try {
      await stat(this.file);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * The current state. The returned object is shared and must not be mutated; it is re-read from
   * disk only when the file changed (another process, or this one, wrote it).
   */
  async read(): Promise<DirectoryState> {
    for (let attempt = 0; ; attempt++) {
      const fp = await this.#fingerprint();
      if (!fp) return emptyState();
      if (this.#cache && sameFingerprint(this.#cache.fp, fp)) return this.#cache.state;
      try {
        const state = parseState(await readFile(this.file, 'utf8'));
        const after = await this.#fingerprint();
        // Only cache when the file did not change while it was read.
        if (after && sameFingerprint(after, fp)) this.#cache = { fp, state };
        return state;
      } catch (err) {
        // Replaced between stat and read: try again with the new file.
        if (isErrno(err, 'ENOENT') && attempt < 5) continue;
        throw err;
      }
    }
  }

  /**
   * Read-modify-write under the lock: `mutate` receives a private copy of the freshest state and
   * changes it in place; the result is written atomically. Returns what `mutate` returns.
   */
  async update<T>(mutate: (state: DirectoryState) => T | Promise<T>): Promise<T> {
    return this.withLock(async () => {
      const state = structuredClone(await this.read());
      const result = await mutate(state);
      await this.write(state);
      return result;
    });
  }

  /** Writes a whole state; only call while holding the lock. */
  async write(state: DirectoryState): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, PRIVATE_FILE_MODE);
    const fp = await this.#fingerprint();
    if (fp) this.#cache = { fp, state: structuredClone(state) };
  }

  /** Runs `fn` holding both the in-process queue and the cross-process lock file. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      await this.#acquire();
      try {
        return await fn();
      } finally {
        await rm(this.lockFile, { force: true });
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #acquire(): Promise<void> {
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    for (;;) {
      try {
        const handle = await open(this.lockFile, 'wx', PRIVATE_FILE_MODE);
        try {
          await handle.writeFile(`${process.pid}\n`);
        } finally {
          await handle.close();
        }
        return;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      if (await this.#lockIsStale()) {
        await rm(this.lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the sandbox state lock ${this.lockFile}`);
      await sleep(LOCK_RETRY_MS + Math.floor(Math.random() * LOCK_RETRY_MS));
    }
  }

  async #lockIsStale(): Promise<boolean> {
    try {
      const [info, content] = await Promise.all([stat(this.lockFile), readFile(this.lockFile, 'utf8')]);
      const pid = Number.parseInt(content.trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) return true;
      return Date.now() - info.mtimeMs > LOCK_STALE_MS;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false; // released meanwhile: just retry
      throw err;
    }
  }

  async #fingerprint(): Promise<Fingerprint | undefined> {
    try {
      const s = await stat(this.file, { bigint: true });
      return { ino: s.ino, mtimeNs: s.mtimeNs, size: s.size };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }
}

function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

function parseState(text: string): DirectoryState {
  const raw = JSON.parse(text) as Partial<DirectoryState>;
  if (raw.version !== 1) throw new Error(`unsupported sandbox state version ${String(raw.version)}`);
  return {
    ...emptyState(),
    ...raw,
    version: 1,
  };
}
