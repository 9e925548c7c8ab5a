import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { answerRegistration, receiveRegistrationRequest, type RegistrationRouteOptions } from '../registration-request.js';
import { ErrorBody, RegistrationAccepted } from './schemas.js';
import { RegistrationResponse } from './client-schemas.js';

/** `POST /register` (RFC 7591 §3.1, OBIE DCR 3.x): record, queue, and answer within DCR_SYNC_WAIT_MS. */
export async function registerPostRoute(app: FastifyInstance, options: RegistrationRouteOptions) {
  const { deps, profile } = options;
  app.post(
    '/register',
    {
      config: { mtls: true },
      bodyLimit: options.maxBodyBytes,
      schema: {
        summary: 'Register a client (RFC 7591 §3.1)',
        security: [{ mutualTls: [] }],
        consumes: [...profile.body.contentTypes],
        headers: Type.Object({ prefer: Type.Optional(Type.String()) }),
        response: { 201: RegistrationResponse, 202: RegistrationAccepted, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 415: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const settled = await receiveRegistrationRequest(request, options, { kind: 'create' });
      return answerRegistration(reply, deps, settled, 201);
    },
  );
}
