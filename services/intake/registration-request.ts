/**
 * What `POST /register` (RFC 7591 §3.1) and `PUT /register/{client_id}` (RFC 7592 §2.2) share: the
 * intake's cheap body check, recording the request and waiting for it within DCR_SYNC_WAIT_MS, and
 * the hybrid answer (registered, rejected, or 202 + poll). Each route file keeps only its endpoint.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { validTraceparent } from '../../core/domain/trace-context.js';
import type { Profile } from '../../core/profiles/types.js';
import type { Registration } from '../../core/domain/registration.js';
import { JwsFormatError, parseCompactJws } from '../../platform/jose/compact-jws.js';
import { HttpError } from '../../platform/http/fastify-errors.js';
import { currentTraceparent } from '../../platform/observability/tracing.js';
import { awaitSettled, recordSubmission, registrationBody, type Submission, type SubmissionDeps } from './submission.js';

/** Options of the two routes that take a registration request. */
export interface RegistrationRouteOptions {
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

/** `Prefer: respond-async` (RFC 7240): answer 202 at once. */
export function wantsAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase() === 'respond-async'));
}

/**
 * Checks the body, records the request (kind `create`, or `update` of `clientId`) and waits for it to
 * settle within DCR_SYNC_WAIT_MS (none with `Prefer: respond-async`). Returns the registration as it
 * stands then.
 */
export async function receiveRegistrationRequest(
  request: FastifyRequest,
  options: RegistrationRouteOptions,
  target: Pick<Submission, 'kind' | 'clientId'>,
): Promise<Registration> {
  const { deps, profile } = options;
  const contentType = mediaType(request.headers['content-type']);
  const body = typeof request.body === 'string' ? request.body : Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '';
  checkBodyShape(profile, contentType, body, options.maxBodyBytes);
  const certificate = request.clientCertificate;
  if (!certificate) throw new HttpError('ERR_INVALID_CLIENT', 'a client certificate is required');
  // The request span's context when tracing is on (its stages join its trace), else the caller's header if it is valid W3C Trace Context.
  const traceparent = currentTraceparent() ?? validTraceparent(request.headers.traceparent);
  const { registration } = await recordSubmission(deps, {
    ...target,
    body: body.trim(),
    contentType,
    certificate,
    ...(traceparent ? { traceparent } : {}),
  });
  request.log.info({ requestId: registration.id, ...(target.clientId ? { clientId: target.clientId } : {}) }, target.kind === 'update' ? 'registration update received' : 'registration received');
  const wait = wantsAsync(request.headers.prefer) ? 0 : options.syncWaitMs;
  return awaitSettled(deps, registration, wait);
}

/**
 * Answers with the registration's state: 201/200 registered, 400 rejected, else 202 (poll).
 * `presentedToken`: the registration access token an update was authenticated with, returned when
 * the update did not rotate it (RFC 7592 §3).
 */
export function answerRegistration(reply: FastifyReply, deps: SubmissionDeps, registration: Registration, successStatus: 200 | 201, presentedToken?: string) {
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
