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
