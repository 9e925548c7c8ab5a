import type { FastifyInstance, FastifyReply } from 'fastify';
import { validTraceparent } from '../../../core/domain/trace-context.js';
import { Type } from 'typebox';
import type { Profile } from '../../../core/profiles/types.js';
import type { Registration } from '../../../core/domain/registration.js';
import { JwsFormatError, parseCompactJws } from '../../../platform/jose/compact-jws.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { currentTraceparent } from '../../../platform/observability/tracing.js';
import { awaitSettled, recordSubmission, registrationBody, type SubmissionDeps } from '../submission.js';
import { ErrorBody, RegistrationAccepted } from './schemas.js';
import { RegistrationResponse } from './client-schemas.js';

export interface RegisterRouteOptions {
  deps: SubmissionDeps;
  profile: Profile;
  syncWaitMs: number;
  maxBodyBytes: number;
}

export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Intake's cheap check of the body shape (SPEC §4 steps 4–5); the verifier does the rest. */
export function checkBodyShape(profile: Profile, contentType: string, body: string, maxBodyBytes: number): void {
  const envelope = profile.body.envelopes[contentType];
  if (!envelope) {
    throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be one of ${profile.body.contentTypes.join(', ')} in profile ${profile.name}`);
  }
  if (envelope === 'jws') {
    try {
      parseCompactJws(body, { what: 'request', allowedAlgorithms: profile.algorithms.request, maxBytes: maxBodyBytes, typ: ['JWT'] });
    } catch (error) {
      if (error instanceof JwsFormatError) throw new HttpError('ERR_INVALID_BODY', error.message);
      throw error;
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new HttpError('ERR_INVALID_BODY', 'the body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HttpError('ERR_INVALID_BODY', 'the body must be a JSON object');
    }
  }
}

/**
 * Answers with the registration's state: 201/200 registered, 400 rejected, else 202 (poll).
 * `presentedToken`: the registration access token an update was authenticated with, returned when
 * the update did not rotate it (RFC 7592 §3).
 */
export function answer(reply: FastifyReply, deps: SubmissionDeps, registration: Registration, successStatus: 200 | 201, presentedToken?: string) {
  // The pipeline's request id on every answer (201, 400, 202): the TPP can quote it, and a 201's
  // body (RFC 7591 §3.2.1) has no member for it.
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache').header('dcr-request-id', registration.id);
  if (registration.status === 'registered') {
    const body = registrationBody(deps, registration);
    if (body) {
      if (body.registration_access_token === undefined && presentedToken !== undefined) body.registration_access_token = presentedToken;
      if (typeof body.registration_client_uri === 'string') reply.header('location', body.registration_client_uri);
      return reply.code(successStatus).send(body);
    }
  }
  if (registration.status === 'rejected' && registration.outcome?.error) {
    return reply.code(400).send({ error: registration.outcome.error, error_description: registration.outcome.error_description ?? '' });
  }
  reply.header('location', `/register/requests/${registration.id}`);
  return reply.code(202).send({ request_id: registration.id, status: registration.status });
}

export function wantsAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase() === 'respond-async'));
}

/** `POST /register` (RFC 7591 §3.1, OBIE DCR 3.x): record, queue, and answer within DCR_SYNC_WAIT_MS. */
export async function registerPostRoute(app: FastifyInstance, options: RegisterRouteOptions) {
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
      const contentType = mediaType(request.headers['content-type']);
      const body = typeof request.body === 'string' ? request.body : Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '';
      checkBodyShape(profile, contentType, body, options.maxBodyBytes);
      const certificate = request.clientCertificate;
      if (!certificate) throw new HttpError('ERR_INVALID_CLIENT', 'a client certificate is required');
      // The request span's context when tracing is on (its stages join its trace), else the caller's header if it is valid W3C Trace Context.
      const traceparent = currentTraceparent() ?? validTraceparent(request.headers.traceparent);
      const { registration } = await recordSubmission(deps, {
        kind: 'create',
        body: body.trim(),
        contentType,
        certificate,
        ...(traceparent ? { traceparent } : {}),
      });
      request.log.info({ requestId: registration.id }, 'registration received');
      const wait = wantsAsync(request.headers.prefer) ? 0 : options.syncWaitMs;
      const settled = await awaitSettled(deps, registration, wait);
      return answer(reply, deps, settled, 201);
    },
  );
}
