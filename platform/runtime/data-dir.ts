import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../../core/domain/errors.js';

/** Mode of `DCR_DATA_DIR` and every directory under it: the service's user only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every file under `DCR_DATA_DIR` (the SQLite database and its -wal/-shm, keys, tokens, sandbox CA). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `DCR_DATA_DIR` if needed and restricts it, and everything already in it, to the service's
 * user: directories 0700, files 0600 (symbolic links are left alone). The directory holds request
 * bodies, organisation contacts, certificates, token hashes and the token sealing key, so an existing
 * directory made 0755 by hand or by an older release is tightened at each start too. A directory the
 * service cannot restrict (not its owner) stops start-up with one line naming DCR_DATA_DIR.
 */
export function securePrivateDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    restrict(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw error;
    throw new ConfigurationError('DCR_DATA_DIR', `cannot restrict ${dataDir} to its owner (mode 0700, files 0600): ${code} ${(error as NodeJS.ErrnoException).path ?? ''}`.trim());
  }
}

function restrict(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(path, PRIVATE_DIR_MODE);
    for (const entry of readdirSync(path)) restrict(join(path, entry));
  } else if (stat.isFile() && (stat.mode & 0o777) !== PRIVATE_FILE_MODE) {
    chmodSync(path, PRIVATE_FILE_MODE);
  }
}
