import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { OpsDeps } from '../deps.js';
import { ErrorBody, RegistrationSummary, SearchTerm, StatusSchema, Timestamp, clientStatusesOf, isoOrUndefined, summaryOf } from '../views.js';

const ListQuery = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    /** On `updated_at`, inclusive. */
    since: Type.Optional(Timestamp),
    /** On `updated_at`, exclusive. */
    until: Type.Optional(Timestamp),
    /** Substring of the last error or of the rejection code. */
    error: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** One exact id: request, client, software, organisation or TPP identity. */
    q: Type.Optional(SearchTerm),
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

/** `GET /admin/registrations`: newest submitted first, paged by `before` (submission time); each row with its client's status now. */
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
        ...(q.q ? { search: q.q } : {}),
        ...(before ? { before } : {}),
      });
      const last = rows[rows.length - 1];
      const clients = await clientStatusesOf(store, rows);
      return reply.header('cache-control', 'no-store').send({
        registrations: rows.map((r) => summaryOf(r, clients.get(r.clientId ?? '') ?? null)),
        next_before: rows.length === limit && last ? last.submittedAt : null,
      });
    },
  );
}
