/**
 * Whether an error means a backing service (the store, the queue) could not be reached or could not
 * take the write right now — an outage to retry, not a bug. Recognised by name and code, so the HTTP
 * layer needs no driver imports; the cause chain is followed a few levels (wrapped errors).
 */
const UNAVAILABLE_NAMES = new Set([
  // mongodb driver 6
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoWriteConcernError',
  // ioredis
  'MaxRetriesPerRequestError',
]);

const UNAVAILABLE_CODES = new Set([
  // better-sqlite3 (SqliteError.code): locked by another connection, disk full, I/O error
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  // the embedded group commit (platform/adapters/embedded/group-commit.ts)
  'ERR_EMBEDDED_BATCH_ROLLED_BACK',
  'ERR_EMBEDDED_NOT_DURABLE',
  // sockets to a backing service
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
]);

export function isDependencyUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const e = error as { name?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.name === 'string' && UNAVAILABLE_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  return isDependencyUnavailable(e.cause, depth + 1);
}

/** The embedded database's own "cannot store this now" codes: full disk, I/O error, locked, a rolled-back batch. */
const STORE_REFUSED_CODES = new Set(['SQLITE_FULL', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'ERR_EMBEDDED_BATCH_ROLLED_BACK']);

/**
 * Whether the store itself refused a write for a reason of its own state (the embedded database:
 * disk full, I/O error, locked, its write batch rolled back) — not the registration's fault, and
 * nothing a stage's retries use up: the stage runner does not record `failed` for it
 * (core/pipeline/stage-runner.ts `storeRefused`). Outages of remote services are not included.
 */
export function isStoreWriteRefused(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const e = error as { code?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (STORE_REFUSED_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  return isStoreWriteRefused(e.cause, depth + 1);
}
