import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ErrorBody } from '../views.js';

const Ok = Type.Object({ status: Type.Literal('ok') });

/** `/health/live` (the process answers) and `/health/ready` (the store answers). No token needed. */
export async function healthRoutes(app: FastifyInstance, options: { ready: () => Promise<void> }) {
  app.get('/health/live', { schema: { response: { 200: Ok } } }, async () => ({ status: 'ok' as const }));
  app.get('/health/ready', { schema: { response: { 200: Ok, 503: ErrorBody } } }, async (request, reply) => {
    try {
      await options.ready();
      return { status: 'ok' as const };
    } catch (error) {
      request.log.warn({ err: error }, 'not ready');
      return reply.code(503).header('retry-after', '5').send({ error: 'temporarily_unavailable', error_description: 'the store is not reachable' });
    }
  });
}
