import type { FastifyInstance } from 'fastify';
import { validTraceparent } from '../../../core/domain/trace-context.js';
import { Type } from 'typebox';
import type { Profile } from '../../../core/profiles/types.js';
import { managedClient, managementAuthHook, managementCredential } from '../management-auth.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { currentTraceparent } from '../../../platform/observability/tracing.js';
import { awaitSettled, recordSubmission, type SubmissionDeps } from '../submission.js';
import { answer, checkBodyShape, mediaType, wantsAsync } from './register.post.js';
import { ErrorBody, RegistrationAccepted } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, RegistrationResponse, type ClientIdParamsType } from './client-schemas.js';

export interface ClientPutRouteOptions {
  deps: SubmissionDeps;
  profile: Profile;
  syncWaitMs: number;
  maxBodyBytes: number;
}

/**
 * `PUT /register/{client_id}` (RFC 7592 §2.2, OBIE DCR 3.x "PUT"): a new signed request (new `jti`)
 * replaces the client's metadata. It travels the same pipeline as a creation (verify → revocation →
 * provision) as a request of kind `update`, and is answered the same hybrid way: `200` with the
 * registration when it settles within DCR_SYNC_WAIT_MS, `400` when rejected, else `202` + poll.
 */
export async function clientPutRoute(app: FastifyInstance, options: ClientPutRouteOptions) {
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
      const { client_id: clientId } = request.params as ClientIdParamsType;
      const client = managedClient(request);
      const contentType = mediaType(request.headers['content-type']);
      const body = typeof request.body === 'string' ? request.body : '';
      checkBodyShape(profile, contentType, body, options.maxBodyBytes);
      const certificate = request.clientCertificate;
      if (!certificate) throw new HttpError('ERR_INVALID_CLIENT', 'a client certificate is required');
      // The request span's context when tracing is on (its stages join its trace), else the caller's header if it is valid W3C Trace Context.
      const traceparent = currentTraceparent() ?? validTraceparent(request.headers.traceparent);
      const { registration } = await recordSubmission(deps, {
        kind: 'update',
        clientId: client.clientId,
        body: body.trim(),
        contentType,
        certificate,
        ...(traceparent ? { traceparent } : {}),
      });
      request.log.info({ requestId: registration.id, clientId }, 'registration update received');
      const wait = wantsAsync(request.headers.prefer) ? 0 : options.syncWaitMs;
      const settled = await awaitSettled(deps, registration, wait);
      // RFC 7592 §3: the response carries the token: the new one when the update rotated it (sealed
      // on the request), else the one presented (only when the caller presented the registration
      // access token: an AS access token says nothing of it).
      const credential = managementCredential(request);
      return answer(reply, deps, settled, 200, credential?.kind === 'registration_access_token' ? credential.token : undefined);
    },
  );
}
