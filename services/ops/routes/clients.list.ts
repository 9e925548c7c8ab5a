import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { CLIENT_STATUSES } from '../../../core/domain/client.js';
import type { OpsDeps } from '../deps.js';
import { ClientView, ErrorBody, SearchTerm, Timestamp, clientViewOf, isoOrUndefined } from '../views.js';

const ClientsQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(CLIENT_STATUSES)),
    /** One exact id: client, software, organisation or TPP identity. */
    q: Type.Optional(SearchTerm),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    /** Paging cursor: `next_before` of the previous page (on `created_at`). */
    before: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
type ClientsQuery = Static<typeof ClientsQuery>;

const ClientsBody = Type.Object(
  {
    clients: Type.Array(ClientView),
    next_before: Type.Union([Type.String(), Type.Null()], { description: 'pass as `before` for the next page; null on the last page' }),
  },
  { additionalProperties: false },
);

/** `GET /admin/clients`: provisioned clients, deleted ones included, newest first; paged by `before` (creation time). */
export async function listClientsRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { store } = options.deps;
  app.get<{ Querystring: ClientsQuery }>(
    '/admin/clients',
    { schema: { querystring: ClientsQuery, response: { 200: ClientsBody, 400: ErrorBody, 401: ErrorBody } } },
    async (request, reply) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const before = isoOrUndefined(q.before);
      const rows = await store.listClients({
        limit,
        ...(q.status ? { status: q.status } : {}),
        ...(q.q ? { search: q.q } : {}),
        ...(before ? { before } : {}),
      });
      const last = rows[rows.length - 1];
      return reply.header('cache-control', 'no-store').send({
        clients: rows.map(clientViewOf),
        next_before: rows.length === limit && last ? last.createdAt : null,
      });
    },
  );
}
