import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { REGISTRATION_STATUSES, STAGES } from '../../../core/domain/registration.js';
import { OUTBOX_LAG_CAP } from '../../../platform/observability/metrics.js';
import type { OpsDeps } from '../deps.js';
import { ErrorBody } from '../views.js';

const QueueCounts = Type.Object({ waiting: Type.Integer(), active: Type.Integer(), delayed: Type.Integer() }, { additionalProperties: false });
const SummaryBody = Type.Object(
  {
    counts: Type.Record(Type.String(), Type.Integer()),
    queues: Type.Record(Type.String(), QueueCounts),
    outbox_pending: Type.Integer({ description: `capped at ${OUTBOX_LAG_CAP}` }),
  },
  { additionalProperties: false },
);

/** `GET /admin/summary`: registrations by status, queue depth per stage, outbox lag (the dashboard's header). */
export async function summaryRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { store, queue } = options.deps;
  app.get('/admin/summary', { schema: { response: { 200: SummaryBody, 401: ErrorBody } } }, async (_request, reply) => {
    const [byStatus, pending, queues] = await Promise.all([
      store.countRegistrationsByStatus(),
      store.pendingOutbox(OUTBOX_LAG_CAP),
      Promise.all(STAGES.map(async (stage) => [stage, await queue.counts(stage)] as const)),
    ]);
    const counts: Record<string, number> = {};
    for (const status of REGISTRATION_STATUSES) counts[status] = byStatus[status] ?? 0;
    return reply.header('cache-control', 'no-store').send({ counts, queues: Object.fromEntries(queues), outbox_pending: pending.length });
  });
}

