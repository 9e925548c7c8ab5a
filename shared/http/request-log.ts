import type { FastifyInstance } from 'fastify';

/**
 * Fastify's own per-request lines ("incoming request", "request completed") are info: with a
 * dashboard polling every few hundred ms they drown everything else. The services turn them off
 * (`disableRequestLogging: true`) and log one line per request at debug instead.
 */
export const QUIET_REQUEST_LOGGING = { disableRequestLogging: true } as const;

export function logRequestsAtDebug(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { req: { method: request.method, url: request.url.split('?')[0] }, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
  });
}
