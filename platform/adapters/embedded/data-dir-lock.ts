import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../../core/domain/errors.js';

/** What the lock file says of its holder. */
interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? '') } : null;
  } catch {
    return null;
  }
}

/**
 * `DCR_DATA_DIR/dcr.lock`: one process at a time owns an embedded data directory. That is what
 * lets the embedded queue give back, at start-up, every job a crashed process had claimed, instead
 * of waiting for their locks to lapse: nobody else can be running them.
 *
 * The lock is a file naming its holder's pid, created atomically (a hard link of a private temp
 * file: it fails if the lock exists). A lock whose holder is gone (a SIGKILL, a power loss) is
 * taken over; one held by a live process, this one included, refuses the start with one line.
 */
export class DataDirLock {
  private constructor(
    readonly file: string,
    private readonly holder: LockHolder,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'dcr.lock');
    const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    const temp = join(dataDir, `.dcr.lock.${process.pid}.${Date.now()}`);
    writeFileSync(temp, JSON.stringify(holder), { mode: 0o600 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(temp, file);
          return new DataDirLock(file, holder);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const current = readHolder(file);
        if (current && (current.host !== holder.host || alive(current.pid))) {
          throw new ConfigurationError(
            'DCR_DATA_DIR',
            `${dataDir} is in use by process ${current.pid} on ${current.host} since ${current.since} (${file}); two processes cannot share an embedded data directory`,
          );
        }
        // Its holder is gone: take it over (a concurrent taker loses the link race above).
        rmSync(file, { force: true });
      }
      throw new ConfigurationError('DCR_DATA_DIR', `${file}: could not take the lock`);
    } finally {
      rmSync(temp, { force: true });
    }
  }

  /** Releases the lock if it is still ours. */
  release(): void {
    const current = readHolder(this.file);
    if (current && current.pid === this.holder.pid && current.since === this.holder.since) {
      try {
        unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}
