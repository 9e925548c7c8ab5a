import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorResponse } from './error-response.js';
import { HttpError } from './http-error.js';

export { HttpError } from './http-error.js';
export { UNAVAILABLE_RETRY_AFTER_SECONDS } from './error-response.js';

/**
 * The error handler of every service (intake, ops): each error is answered as
 * platform/http/error-response.ts maps it, JSON `{error, error_description}` (SPEC §5.2), never
 * cached; outages are logged as warnings, faults as errors with their cause.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: unknown, request, reply) => {
    const answer = errorResponse(err);
    if (answer.log === 'warn') request.log.warn({ err }, 'a backing service is unavailable');
    else if (answer.log === 'error') request.log.error({ err }, 'unhandled error');
    reply.header('cache-control', 'no-store');
    for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
    return reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const answer = errorResponse(new HttpError('ERR_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`));
    reply.code(answer.status).send(answer.body);
  });
});
