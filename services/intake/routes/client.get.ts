import type { FastifyInstance } from 'fastify';
import { managedClient, managementAuthHook } from '../management-auth.js';
import type { SubmissionDeps } from '../submission.js';
import { ErrorBody } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, RegistrationResponse } from './client-schemas.js';

/**
 * `GET /register/{client_id}` (RFC 7592 §2.1, OBIE DCR 3.x): the client's current registration.
 * The registration access token is not echoed: only its hash is kept.
 */
export async function clientGetRoute(app: FastifyInstance, options: { deps: SubmissionDeps }) {
  const { deps } = options;
  app.get(
    '/register/:client_id',
    {
      config: { mtls: true },
      onRequest: managementAuthHook(deps.store),
      schema: {
        summary: 'Read a client registration (RFC 7592 §2.1)',
        security: MANAGEMENT_SECURITY,
        params: ClientIdParams,
        response: { 200: RegistrationResponse, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const client = managedClient(request);
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').code(200).send(client.metadata);
    },
  );
}
