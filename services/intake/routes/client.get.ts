import type { FastifyInstance } from 'fastify';
import { managedClient, managementAuthHook, managementCredential } from '../management-auth.js';
import type { SubmissionDeps } from '../submission.js';
import { ErrorBody } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, RegistrationResponse } from './client-schemas.js';

/**
 * `GET /register/{client_id}` (RFC 7592 §2.1, OBIE DCR 3.x): the client's current registration,
 * with `registration_client_uri` and (RFC 7592 §3; the Open Finance Brasil swagger requires it) the
 * `registration_access_token` when the call was authenticated with it: the presented token, as it
 * is never changed by a read. Only its hash is stored, so a call authenticated with an AS access
 * token (OBIE, CDR) gets the registration without it.
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
      const credential = managementCredential(request);
      const body = credential?.kind === 'registration_access_token' ? { ...client.metadata, registration_access_token: credential.token } : client.metadata;
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').code(200).send(body);
    },
  );
}
