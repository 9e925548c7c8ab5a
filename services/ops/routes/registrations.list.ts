import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { OpsDeps } from '../deps.js';
import { ErrorBody, RegistrationSummary, StatusSchema, Timestamp, isoOrUndefined, summaryOf } from '../views.js';

const ListQuery = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    /** On `updated_at`, inclusive. */
    since: Type.Optional(Timestamp),
    /** On `updated_at`, exclusive. */
    until: Type.Optional(Timestamp),
    /** Substring of the last error. */
    error: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    /** Paging cursor: `next_before` of the previous page (on `submitted_at`). */
    before: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const ListBody = Type.Object(
  {
    registrations: Type.Array(RegistrationSummary),
    next_before: Type.Union([Type.String(), Type.Null()], { description: 'pass as `before` for the next page; null on the last page' }),
  },
  { additionalProperties: false },
);

/** `GET /admin/registrations`: newest first, paged by `before` (submission time). */
export async function listRegistrationsRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { store } = options.deps;
  app.get<{ Querystring: ListQuery }>(
    '/admin/registrations',
    { schema: { querystring: ListQuery, response: { 200: ListBody, 400: ErrorBody, 401: ErrorBody } } },
    async (request, reply) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const since = isoOrUndefined(q.since);
      const until = isoOrUndefined(q.until);
      const before = isoOrUndefined(q.before);
      const rows = await store.listRegistrations({
        limit,
        ...(q.status ? { status: q.status } : {}),
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(q.error ? { error: q.error } : {}),
        ...(before ? { before } : {}),
      });
      const last = rows[rows.length - 1];
      return reply.header('cache-control', 'no-store').send({
        registrations: rows.map(summaryOf),
        next_before: rows.length === limit && last ? last.submittedAt : null,
      });
    },
  );
}
