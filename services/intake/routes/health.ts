import type { FastifyInstance } from 'fastify';

/** `/health/live` (the process answers) and `/health/ready` (its dependencies answer). No certificate needed. */
export async function healthRoutes(app: FastifyInstance, options: { ready: () => Promise<void> }) {
  app.get('/health/live', {}, async () => ({ status: 'ok' }));
  app.get('/health/ready', {}, async (request, reply) => {
    try {
      await options.ready();
      return { status: 'ok' };
    } catch (error) {
      request.log.warn({ err: error }, 'not ready');
      return reply.code(503).header('retry-after', '5').send({ error: 'temporarily_unavailable', error_description: 'a dependency is not reachable' });
    }
  });
}
