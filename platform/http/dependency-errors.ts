import { findDependencyUnavailable } from '../../core/errors/dependency-unavailable.js';
import { driverOutage } from '../adapters/dependency.js';

/**
 * Whether an error means a backing service could not be reached or could not take the write right
 * now: a {@link DependencyUnavailable} (what adapters raise at their boundary) in the error or its
 * cause chain. Thin fallback: a driver failure that escaped outside an adapter method (a driver used
 * directly, e.g. the rate-limit store) is recognised by platform/adapters/dependency.ts, which alone
 * knows driver names.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  return findDependencyUnavailable(error) !== null || driverOutage(error) !== null;
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
