import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { managedClient, managementAuthHook, managementCredential } from '../management-auth.js';
import { answerRegistration, receiveRegistrationRequest, type RegistrationRouteOptions } from '../registration-request.js';
import { ErrorBody, RegistrationAccepted } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, RegistrationResponse } from './client-schemas.js';

/**
 * `PUT /register/{client_id}` (RFC 7592 §2.2, OBIE DCR 3.x "PUT"): a new signed request (new `jti`)
 * replaces the client's metadata. It travels the same pipeline as a creation (verify → revocation →
 * provision) as a request of kind `update`, and is answered the same hybrid way: `200` with the
 * registration when it settles within DCR_SYNC_WAIT_MS, `400` when rejected, else `202` + poll.
 */
export async function clientPutRoute(app: FastifyInstance, options: RegistrationRouteOptions) {
  const { deps, profile } = options;
  app.put(
    '/register/:client_id',
    {
      config: { mtls: true },
      onRequest: managementAuthHook(deps.store),
      bodyLimit: options.maxBodyBytes,
      schema: {
        summary: 'Update a client registration (RFC 7592 §2.2)',
        security: MANAGEMENT_SECURITY,
        consumes: [...profile.body.contentTypes],
        params: ClientIdParams,
        headers: Type.Object({ prefer: Type.Optional(Type.String({ description: 'respond-async (RFC 7240) for an immediate 202' })) }),
        response: { 200: RegistrationResponse, 202: RegistrationAccepted, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody, 415: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const client = managedClient(request);
      const settled = await receiveRegistrationRequest(request, options, { kind: 'update', clientId: client.clientId });
      // RFC 7592 §3: the response carries the token: the new one when the update rotated it (sealed
      // on the request), else the one presented (only when the caller presented the registration
      // access token: an AS access token says nothing of it).
      const credential = managementCredential(request);
      return answerRegistration(reply, deps, settled, 200, credential?.kind === 'registration_access_token' ? credential.token : undefined);
    },
  );
}
