import { registrationEvent, stageJob } from '../../core/domain/events.js';
import { HttpError } from '../../platform/http/fastify-errors.js';
import { newRequestId, sha256Base64url } from '../../core/domain/ids.js';
import { isSettled, type PresentedCertificate, type Registration, type RequestKind } from '../../core/domain/registration.js';
import type { JobDispatcher } from '../../core/outbox/job-dispatcher.js';
import type { OutcomeSignal } from '../../core/ports/signal.js';
import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import type { Store } from '../../core/ports/store.js';
import type { TokenSealer } from '../../platform/crypto/token-sealer.js';

export interface SubmissionDeps {
  store: Store;
  dispatcher: JobDispatcher;
  signal: OutcomeSignal;
  sealer: TokenSealer;
  /** Wakes the in-process outbox relay after a commit that carries events. */
  onCommitted?: () => void;
  /** How long after registration the sealed token is still delivered (`DCR_RESULT_TTL_SECONDS`). */
  resultTtlSeconds?: number;
  /** The bank's authorization server: RFC 7592 DELETE removes the client there before answering 204. */
  authorizationServer: AuthorizationServerPort;
  /** How long DELETE waits for the AS to apply the deletion event (`events` adapter), then answers anyway. */
  deleteWaitMs?: number;
  /** Requests of one TPP in progress at once (`DCR_MAX_IN_FLIGHT_PER_TPP`); unset or 0: no quota. */
  maxInFlightPerTpp?: number;
}

/** `Retry-After` of a 429 for a TPP over its quota of requests in progress: about one verification round. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 30;

export interface Submission {
  kind: RequestKind;
  body: string;
  contentType: string;
  certificate: PresentedCertificate;
  clientId?: string;
  traceparent?: string;
}

/**
 * Records a submission durably with its `received` event and its verification job in one write,
 * then hands the job to the queue. Resubmitting the same bytes from the same TPP (same certificate)
 * returns the first request: never a second client.
 */
export async function recordSubmission(deps: SubmissionDeps, submission: Submission): Promise<{ registration: Registration; duplicate: boolean }> {
  const now = new Date();
  const id = newRequestId();
  const submissionKey = sha256Base64url(`${submission.kind}\n${submission.clientId ?? ''}\n${submission.certificate.thumbprint}\n${submission.body}`);
  const quota = deps.maxInFlightPerTpp ?? 0;
  if (quota > 0) {
    // Resubmitting a recorded request is always answered (idempotency); only new ones count.
    const existing = await deps.store.findRegistrationBySubmissionKey(submissionKey);
    if (existing) return { registration: existing, duplicate: true };
    const inFlight = await deps.store.countInFlight(submission.certificate.tppIdentity);
    if (inFlight >= quota) {
      throw new HttpError(
        'ERR_RATE_LIMITED',
        `too many registration requests of this TPP are still in progress (at most ${quota}); retry once some have completed`,
        { 'retry-after': String(IN_FLIGHT_RETRY_AFTER_SECONDS) },
      );
    }
  }
  const registration: Registration = {
    id,
    kind: submission.kind,
    clientId: submission.clientId ?? null,
    status: 'received',
    generation: 0,
    submissionKey,
    contentType: submission.contentType,
    body: submission.body,
    certificate: submission.certificate,
    submittedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    attempts: {},
    history: [{ at: now.toISOString(), event: 'transition', to: 'received', actor: submission.certificate.tppIdentity }],
    version: 0,
    traceparent: submission.traceparent ?? null,
  };
  const outbox = [registrationEvent('dcr.registration.received', registration, now), stageJob('verify', id, 0, now, submission.traceparent)];
  const result = await deps.store.insertRegistration(registration, outbox);
  if (result.inserted) {
    await deps.dispatcher.dispatch(id, outbox);
    deps.onCommitted?.();
  }
  return { registration: result.registration, duplicate: !result.inserted };
}

/** The longest pause between two re-reads of a registration a client waits on. */
const RE_READ_MAX_MS = 2000;

/** Waits up to `timeoutMs` for the registration to settle; returns its latest state either way. */
export async function awaitSettled(deps: SubmissionDeps, registration: Registration, timeoutMs: number): Promise<Registration> {
  if (isSettled(registration.status) || timeoutMs <= 0) return registration;
  const deadline = Date.now() + timeoutMs;
  const watch = deps.signal.watch(registration.id);
  try {
    let latest: Registration | null = registration;
    for (let reread = 500; ; reread = Math.min(RE_READ_MAX_MS, reread * 2)) {
      latest = (await deps.store.getRegistration(registration.id)) ?? latest;
      if (isSettled(latest.status)) return latest;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return latest;
      // The signal is best effort: re-read the store after 0.5 s, 1 s, then every 2 s. Not every
      // 0.5 s: when the pipeline falls behind every request waits its whole DCR_SYNC_WAIT_MS, and
      // their re-reads of whole documents became most of the store's load (README "Fault injection").
      await watch.wait(Math.min(remaining, reread));
    }
  } finally {
    watch.dispose();
  }
}

/** The registration response as the TPP receives it: the stored body plus the unsealed token. */
export function registrationBody(
  deps: Pick<SubmissionDeps, 'sealer' | 'resultTtlSeconds'>,
  registration: Registration,
  now: number = Date.now(),
): Record<string, unknown> | null {
  const response = registration.outcome?.response;
  if (!response) return null;
  const body: Record<string, unknown> = { ...response };
  const ttlMs = (deps.resultTtlSeconds ?? 86_400) * 1000;
  // The token is handed out only within the delivery window after registration; later polls and
  // resubmissions get the registration without it.
  if (registration.sealedToken && now - Date.parse(registration.updatedAt) <= ttlMs) {
    body.registration_access_token = deps.sealer.open(registration.sealedToken, registration.id);
  }
  return body;
}
