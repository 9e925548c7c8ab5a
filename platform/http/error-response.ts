import { RegistrationRejection } from '../../core/domain/errors.js';
import { DcrError } from '../../core/errors/dcr-error.js';
import { ERRORS, type ErrorCode } from '../../core/errors/registry.js';
import { isDependencyUnavailable } from './dependency-errors.js';
import { HttpError } from './http-error.js';

/** Seconds a client is asked to wait when a backing service is down. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** What an error is answered with, and how the handler logs it. */
export interface ErrorResponse {
  status: number;
  body: { error: string; error_description: string };
  headers: Record<string, string>;
  /** The registry code the answer stands for (logs, metrics). */
  code: ErrorCode;
  /** `warn`: an outage (503); `error`: a fault, logged with its cause; `none`: the caller's mistake. */
  log: 'none' | 'warn' | 'error';
}

/** Fastify's own errors (body parsing, routing), by `FST_ERR_*` code. */
const FASTIFY_CODES: Record<string, { code: ErrorCode; description: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'ERR_PAYLOAD_TOO_LARGE', description: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', description: 'unsupported Content-Type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'ERR_INVALID_REQUEST', description: 'empty JSON body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'ERR_INVALID_REQUEST', description: 'body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'ERR_INVALID_REQUEST', description: 'invalid Content-Length' },
  FST_ERR_CTP_EMPTY_TYPE: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', description: 'missing Content-Type' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', description: 'invalid Content-Type' },
  FST_ERR_BAD_URL: { code: 'ERR_INVALID_REQUEST', description: 'malformed URL' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'ERR_INVALID_REQUEST', description: 'invalid request' },
};

const UNAVAILABLE_DESCRIPTION = 'a backing service is unavailable; send the same request again later';
const INTERNAL_DESCRIPTION = 'an internal error occurred; the request can be retried';

/** The answer of a registry code with this description (status and `error` from the registry). */
export function httpAnswer(code: ErrorCode, description: string, headers: Record<string, string> = {}, log: ErrorResponse['log'] = 'none'): ErrorResponse {
  const spec = ERRORS[code];
  return { status: spec.status, body: { error: spec.error, error_description: description }, headers: { ...headers }, code, log };
}

const unavailable = (code: ErrorCode, description = UNAVAILABLE_DESCRIPTION): ErrorResponse =>
  httpAnswer(code, description, { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) }, 'warn');
const internal = (): ErrorResponse => httpAnswer('ERR_INTERNAL', INTERNAL_DESCRIPTION, {}, 'error');

/** A caller-facing description: one ASCII line, bounded (never a stack trace). */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}

/**
 * The one mapping of any error to an HTTP answer (used by the error handler of every service,
 * platform/http/fastify-errors.ts). Product errors are answered as the registry
 * (core/errors/registry.ts) says: bad input is a 4xx with a standard code, never a 5xx; a backing
 * service that is down (`DependencyUnavailable`, and every registry code answered 503) is 503
 * `temporarily_unavailable` with `Retry-After` (submissions are idempotent: the same request can be
 * sent again); only genuine faults are 500 `server_error`, without their message.
 */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof DcrError) {
    // Errors that carry their own answer.
    if (error instanceof HttpError) return httpAnswer(error.code, error.description, { ...error.headers });
    if (error instanceof RegistrationRejection) return { ...httpAnswer(error.code, error.errorDescription), body: error.toJSON() };
    const spec = error.spec;
    if (spec.status === 503) return unavailable(error.code);
    if (spec.status >= 500) return isDependencyUnavailable(error) ? unavailable('ERR_DEPENDENCY_UNAVAILABLE') : internal();
    return httpAnswer(error.code, clean(error.message));
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; statusCode?: unknown; validation?: unknown; validationContext?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  const known = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  if (known) return httpAnswer(known.code, known.description);
  if (e.validation) return httpAnswer('ERR_INVALID_REQUEST', clean(`request ${typeof e.validationContext === 'string' ? e.validationContext : ''} ${message}`.trim()));
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { ...httpAnswer('ERR_INVALID_REQUEST', clean(message)), status };
  // A driver's failure that escaped an adapter, or wrapped as the cause of another error.
  if (isDependencyUnavailable(error)) return unavailable('ERR_DEPENDENCY_UNAVAILABLE');
  return internal();
}
