import type { FastifyInstance } from 'fastify';
import type { PipelineMetrics } from '../../../platform/observability/metrics.js';

/** `GET /metrics`: Prometheus text exposition of this runtime's registry (behind the admin token). */
export async function metricsRoute(app: FastifyInstance, options: { metrics: PipelineMetrics }) {
  app.get('/metrics', {}, async (_request, reply) => {
    const { contentType, body } = await options.metrics.render();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
