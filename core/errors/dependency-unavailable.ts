import { DcrError } from './dcr-error.js';

/** The backing services an adapter stands for (platform/adapters/*). */
export const DEPENDENCIES = ['store', 'queue', 'events', 'signal', 'rate_limit'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/**
 * A backing service (the store, the queue, the event bus, the outcome signal) could not be reached
 * or could not take the write right now: an outage to retry, not a bug and not the TPP's fault.
 * Adapters raise it at their boundary (platform/adapters/dependency.ts) from the driver's failure,
 * which stays in `cause`; the message names the dependency, the operation and the driver error's
 * class (credentials in URLs are masked). HTTP answers it 503 `temporarily_unavailable` with
 * `Retry-After`; a stage retries it.
 */
export class DependencyUnavailable extends DcrError {
  readonly code = 'ERR_DEPENDENCY_UNAVAILABLE';
  constructor(
    readonly dependency: Dependency,
    /** What was being done (the adapter method), and the driver's error in one short line. */
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`the ${dependency} is unavailable: ${detail}`, options);
  }
  /** A short stable class for operators (the registration's history), like `RetryableFailure.reason`. */
  get reason(): `${Dependency}_unavailable` {
    return `${this.dependency}_unavailable`;
  }
}

/** The {@link DependencyUnavailable} in an error's cause chain (a few levels), if any. */
export function findDependencyUnavailable(error: unknown, depth = 0): DependencyUnavailable | null {
  if (error instanceof DependencyUnavailable) return error;
  if (typeof error !== 'object' || error === null || depth >= 4) return null;
  return findDependencyUnavailable((error as { cause?: unknown }).cause, depth + 1);
}
