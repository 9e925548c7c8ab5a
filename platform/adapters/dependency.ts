import { DependencyUnavailable, type Dependency } from '../../core/errors/dependency-unavailable.js';

/**
 * Driver failures that mean a backing service could not be reached or could not take the write
 * right now (an outage to retry, not a bug). Only adapters know driver names: at their boundary
 * ({@link guardAdapter}) such a failure becomes a {@link DependencyUnavailable}, and nothing above
 * platform/adapters needs to recognise drivers.
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
  // kafkajs
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

const UNAVAILABLE_CODES = new Set([
  // better-sqlite3 (SqliteError.code): locked by another connection, disk full, I/O error (and the
  // SQLITE_IOERR_* extended codes), no longer open
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

/** better-sqlite3 throws a plain TypeError on a closed database handle. */
const CLOSED_SQLITE = /^The database connection is not open$/;

/** The driver error in `error`'s cause chain (a few levels) that means an outage, if any. */
export function driverOutage(error: unknown, depth = 0): Error | null {
  if (typeof error !== 'object' || error === null || depth > 4) return null;
  const e = error as { name?: unknown; code?: unknown; cause?: unknown; message?: unknown };
  if (typeof e.name === 'string' && UNAVAILABLE_NAMES.has(e.name)) return error as Error;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return error as Error;
  if (error instanceof TypeError && typeof e.message === 'string' && CLOSED_SQLITE.test(e.message)) return error;
  return driverOutage(e.cause, depth + 1);
}

/** One line naming the driver failure, without credentials (user:password@ in URLs is masked). */
function describeDriverError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  const label = typeof code === 'string' && !error.name.includes(code) ? `${error.name} ${code}` : error.name;
  // eslint-disable-next-line no-control-regex
  const message = error.message.replace(/\/\/[^/\s@]*@/g, '//***@').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return message ? `${label}: ${message}` : label;
}

/**
 * `error` as a {@link DependencyUnavailable} of `dependency` when it is (or wraps) a driver outage,
 * else `error` unchanged (a conflict, a product error, a bug stay what they are).
 */
export function asDependencyUnavailable(dependency: Dependency, error: unknown, operation?: string): unknown {
  if (error instanceof DependencyUnavailable) return error;
  const outage = driverOutage(error);
  if (!outage) return error;
  return new DependencyUnavailable(dependency, `${operation ? `${operation}: ` : ''}${describeDriverError(outage)}`, { cause: error });
}

/**
 * The adapter boundary: `adapter` with every method wrapped so that a driver outage it throws or
 * rejects with arrives as a {@link DependencyUnavailable} of `dependency` (the driver's error kept
 * in `cause`). Each adapter returns its instance through this once (constructor or factory), so no
 * method can be forgotten. Methods run on the adapter itself (private fields work); values that
 * are not functions are passed through.
 */
export function guardAdapter<T extends object>(adapter: T, dependency: Dependency): T {
  const wrappers = new Map<PropertyKey, { original: unknown; wrapper: unknown }>();
  return new Proxy(adapter, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      const cached = wrappers.get(prop);
      if (cached?.original === value) return cached.wrapper;
      const method = value as (...args: unknown[]) => unknown;
      const operation = typeof prop === 'string' ? prop : undefined;
      const wrapper = (...args: unknown[]): unknown => {
        let result: unknown;
        try {
          result = method.apply(target, args);
        } catch (error) {
          throw asDependencyUnavailable(dependency, error, operation);
        }
        if (result instanceof Promise) {
          return result.catch((error: unknown) => {
            throw asDependencyUnavailable(dependency, error, operation);
          });
        }
        return result;
      };
      wrappers.set(prop, { original: value, wrapper });
      return wrapper;
    },
  });
}
