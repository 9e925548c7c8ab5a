import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { replayMatching } from '../../../core/pipeline/replay.js';
import { actorOf, type OpsDeps } from '../deps.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { ActorHeader, ErrorBody, Timestamp, isoOrUndefined } from '../views.js';

const BulkFilter = Type.Object(
  {
    /** `failed` (default) or `rejected` (with `force: true`). */
    status: Type.Optional(Type.Union([Type.Literal('failed'), Type.Literal('rejected')])),
    since: Type.Optional(Timestamp),
    until: Type.Optional(Timestamp),
    error: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    force: Type.Optional(Type.Boolean()),
    dryRun: Type.Optional(Type.Boolean()),
  },
  // A misspelt filter member must not widen a bulk replay: unknown members are refused.
  { additionalProperties: false },
);
type BulkFilter = Static<typeof BulkFilter>;
const ActorHeaders = Type.Object({ 'x-actor': Type.Optional(ActorHeader) });

const BulkBody = Type.Object(
  {
    matched: Type.Integer(),
    replayed: Type.Integer({ description: 'replayed, or in a dry run: would be replayed' }),
    skipped: Type.Integer(),
    dryRun: Type.Boolean(),
    actor: Type.String(),
    requestIds: Type.Array(Type.String(), { description: 'the requests replayed (at most 1000)' }),
  },
  { additionalProperties: false },
);

/** `POST /admin/replay`: bulk replay by filter (`status`, `since`, `until`, `error`); returns counts. */
export async function bulkReplayRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { deps } = options;
  app.post<{ Body: BulkFilter; Headers: Static<typeof ActorHeaders> }>(
    '/admin/replay',
    { schema: { body: BulkFilter, headers: ActorHeaders, response: { 200: BulkBody, 400: ErrorBody, 401: ErrorBody } } },
    async (request, reply) => {
      const body = request.body;
      const status = body.status ?? 'failed';
      if (status === 'rejected' && body.force !== true) {
        throw new HttpError('ERR_INVALID_REQUEST', 'replaying rejected requests needs force: true (they were the TPP\'s fault)');
      }
      const actor = actorOf(request.headers);
      const since = isoOrUndefined(body.since);
      const until = isoOrUndefined(body.until);
      // A bulk replay of thousands can outlast the idle-socket timeout while nothing is written:
      // the operator would lose the answer (the replay goes on). Wait for it without that limit.
      request.raw.socket.setTimeout(0);
      const result = await replayMatching(
        deps.store,
        deps.dispatcher,
        { status, ...(since ? { since } : {}), ...(until ? { until } : {}), ...(body.error ? { error: body.error } : {}) },
        { actor, force: body.force === true, dryRun: body.dryRun === true, ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}) },
      );
      if (!result.dryRun) {
        deps.metrics.replays.inc({ result: 'replayed' }, result.replayed);
        deps.metrics.replays.inc({ result: 'skipped' }, result.skipped);
      }
      request.log.info({ actor, filter: { status, since, until, error: body.error }, ...result, requestIds: undefined }, 'bulk replay');
      return reply.header('cache-control', 'no-store').send({ ...result, actor });
    },
  );
}
