import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** An admin API error answered as `{error, error_description}`. */
export class AdminError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

/** Every error is JSON `{error, error_description}`; bad input is a 4xx, never a 5xx or a stack trace. */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError | AdminError, request, reply) => {
    reply.header('cache-control', 'no-store');
    if (err instanceof AdminError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.statusCode).send({ error: err.error, error_description: err.description });
    }
    if ('validation' in err && err.validation) {
      return reply.code(400).send({ error: 'invalid_request', error_description: `request ${err.validationContext ?? ''} ${err.message}`.trim().slice(0, 300) });
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'invalid_request', error_description: err.message.slice(0, 300) });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'server_error', error_description: 'an internal error occurred; the request can be retried' });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'not_found', error_description: `no route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` });
  });
});
