import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { replayRegistration } from '../../../core/pipeline/replay.js';
import { actorOf, type OpsDeps } from '../deps.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { ActorHeader, ErrorBody, RegistrationSummary, RequestIdParams, StageSchema, clientStatusesOf, summaryOf } from '../views.js';

const ReplayQuery = Type.Object({ force: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false });
const ActorHeaders = Type.Object({ 'x-actor': Type.Optional(ActorHeader) });

const ReplayBody = Type.Object(
  {
    replayed: Type.Boolean(),
    /** Why nothing was done, when `replayed` is false. */
    reason: Type.Optional(Type.String()),
    stage: Type.Optional(StageSchema),
    actor: Type.String(),
    registration: RegistrationSummary,
  },
  { additionalProperties: false },
);

/**
 * `POST /admin/registrations/{request_id}/replay[?force=true]`: re-run a failed (or, forced, a
 * rejected) request from the stage that failed; audited with the actor. A registration that is
 * registered or in flight is left alone: `200 {replayed: false, reason}`.
 */
export async function replayRegistrationRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { deps } = options;
  app.post<{ Params: RequestIdParams; Querystring: Static<typeof ReplayQuery>; Headers: Static<typeof ActorHeaders> }>(
    '/admin/registrations/:requestId/replay',
    {
      schema: {
        params: RequestIdParams,
        querystring: ReplayQuery,
        headers: ActorHeaders,
        response: { 200: ReplayBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request.headers);
      const force = request.query.force === true;
      const result = await replayRegistration(deps.store, deps.dispatcher, request.params.requestId, {
        actor,
        force,
        ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
      });
      if (!result.replayed && result.notFound) throw new HttpError('ERR_NOT_FOUND', 'no such registration request');
      deps.metrics.replays.inc({ result: result.replayed ? 'replayed' : 'skipped' });
      request.log.info({ requestId: request.params.requestId, actor, force, replayed: result.replayed }, 'replay requested');
      const registration = result.replayed ? result.registration : await deps.store.getRegistration(request.params.requestId);
      if (!registration) throw new HttpError('ERR_NOT_FOUND', 'no such registration request');
      const clients = await clientStatusesOf(deps.store, [registration]);
      return reply.header('cache-control', 'no-store').send({
        replayed: result.replayed,
        ...(result.replayed ? { stage: result.stage } : { reason: result.reason }),
        actor,
        registration: summaryOf(registration, clients.get(registration.clientId ?? '') ?? null),
      });
    },
  );
}
