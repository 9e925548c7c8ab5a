import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { applyDirectoryVerdict, MANAGEMENT_REALM, organisationOf } from '../management-auth.js';
import { registrationBody, type SubmissionDeps } from '../submission.js';
import { ErrorBody, RequestStatus } from './schemas.js';

/**
 * `GET /register/requests/{request_id}`: status polling, only for the submitting organisation (the
 * same scoped TPP identity: same issuing CA, same organisation attribute). An answer that carries the
 * registration (its client and registration access token) is given only while the directory accepts
 * the presented certificate and that organisation (401 once revoked; 503 while the directory cannot
 * say, for a check soft-fail does not cover). A request not registered (yet) answers its status
 * without asking the directory: during a directory outage a TPP still learns that its request
 * `failed`, and nothing it could use is handed out.
 */
export async function requestStatusRoute(app: FastifyInstance, options: { deps: SubmissionDeps }) {
  const { deps } = options;
  app.get(
    '/register/requests/:requestId',
    {
      config: { mtls: true },
      schema: {
        params: Type.Object({ requestId: Type.String({ maxLength: 64 }) }),
        response: { 200: RequestStatus, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const { requestId } = request.params as { requestId: string };
      const registration = await deps.store.getRegistration(requestId);
      const presented = request.clientCertificate;
      // Another organisation's request is indistinguishable from an unknown one.
      if (!registration || !presented || !request.server.certificateIdentities.same(registration.certificate.tppIdentity, registration.certificate.pem, presented)) {
        throw new HttpError('ERR_NOT_FOUND', 'no such registration request for this client certificate');
      }
      if (registration.status === 'registered') {
        const verified = registration.verified ?? null;
        await applyDirectoryVerdict(request, presented, {
          ssa: verified?.ssa ?? null,
          organisation: verified ? organisationOf(verified.ssa, verified.orgId, verified.softwareId) : null,
          challenge: `Bearer realm="${MANAGEMENT_REALM}"`,
        });
      }
      const body: Record<string, unknown> = {
        request_id: registration.id,
        status: registration.status,
        submitted_at: registration.submittedAt,
        updated_at: registration.updatedAt,
      };
      if (registration.clientId && registration.status === 'registered') body.client_id = registration.clientId;
      const response = registration.status === 'registered' ? registrationBody(deps, registration) : null;
      if (response) body.registration = response;
      if (registration.status === 'rejected' && registration.outcome?.error) {
        body.error = registration.outcome.error;
        body.error_description = registration.outcome.error_description ?? '';
      }
      if (registration.status === 'failed') {
        body.error = 'temporarily_unavailable';
        body.error_description = 'the registration could not be completed for a reason on our side; operators will retry it';
      }
      return reply.header('cache-control', 'no-store').send(body);
    },
  );
}
