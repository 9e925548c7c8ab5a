import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { RegistrationRejection } from '../../core/domain/errors.js';
import { isDependencyUnavailable } from './dependency-errors.js';

/** Seconds a client is asked to wait when a backing service is down. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** An HTTP error answered as `{error, error_description}` (every error is JSON, SPEC §5.2). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

const FASTIFY_CODES: Record<string, { status: number; error: string; description: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'invalid_request', description: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'invalid_request', description: 'unsupported Content-Type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', description: 'empty JSON body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_request', description: 'body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_request', description: 'invalid Content-Length' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, error: 'invalid_request', description: 'missing Content-Type' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, error: 'invalid_request', description: 'invalid Content-Type' },
  FST_ERR_BAD_URL: { status: 400, error: 'invalid_request', description: 'malformed URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, error: 'invalid_request', description: 'invalid request' },
};

/**
 * Maps every error to a JSON body with a standard code. Bad input is a 4xx, never a 5xx or a stack
 * trace; a backing service that is down (store, queue) is 503 `temporarily_unavailable` with
 * `Retry-After` (the same request can be sent again: submissions are idempotent); only genuine
 * server faults answer 500 `server_error`, logged with their cause.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError | HttpError | RegistrationRejection, request, reply) => {
    reply.header('cache-control', 'no-store');
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.statusCode).send({ error: err.error, error_description: err.description });
    }
    if (err instanceof RegistrationRejection) return reply.code(400).send(err.toJSON());
    const known = 'code' in err && typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
    if (known) return reply.code(known.status).send({ error: known.error, error_description: known.description });
    if ('validation' in err && err.validation) {
      return reply.code(400).send({ error: 'invalid_request', error_description: `request ${err.validationContext ?? ''} ${err.message}`.trim().slice(0, 300) });
    }
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'invalid_request', error_description: err.message.slice(0, 300) });
    }
    if (isDependencyUnavailable(err)) {
      request.log.warn({ err }, 'a backing service is unavailable');
      return reply
        .code(503)
        .header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS))
        .send({ error: 'temporarily_unavailable', error_description: 'a backing service is unavailable; send the same request again later' });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'server_error', error_description: 'an internal error occurred; the request can be retried' });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'not_found', error_description: `no route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` });
  });
});
