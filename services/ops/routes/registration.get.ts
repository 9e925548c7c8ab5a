import type { FastifyInstance } from 'fastify';
import type { OpsDeps } from '../deps.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { ErrorBody, RegistrationDetail, RequestIdParams, clientStatusesOf, detailOf } from '../views.js';

/** `GET /admin/registrations/{request_id}`: one request with its full history (no secrets). */
export async function getRegistrationRoute(app: FastifyInstance, options: { deps: OpsDeps }) {
  const { store } = options.deps;
  app.get<{ Params: RequestIdParams }>(
    '/admin/registrations/:requestId',
    { schema: { params: RequestIdParams, response: { 200: RegistrationDetail, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody } } },
    async (request, reply) => {
      const registration = await store.getRegistration(request.params.requestId);
      if (!registration) throw new HttpError('ERR_NOT_FOUND', 'no such registration request');
      const clients = await clientStatusesOf(store, [registration]);
      return reply.header('cache-control', 'no-store').send(detailOf(registration, clients.get(registration.clientId ?? '') ?? null));
    },
  );
}
