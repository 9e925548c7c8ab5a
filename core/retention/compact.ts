import type { Registration } from '../domain/registration.js';

/**
 * The compact record retention keeps of a registered request once its delivery window is over
 * (README "Retention"): ids, status, submitter (certificate thumbprint, subject, issuer, serial,
 * identity, and the certificate itself: management still recognises clients stored before
 * identities were scoped to their CA by it, platform/pki/client-certificate.ts), outcome (the
 * registration response, never the token) and the full history stay; the request body, the verified
 * claims and the sealed registration access token go.
 * The version is bumped like any write, so a writer holding the full copy loses its compare-and-set.
 */
export function compactedRegistration(current: Registration, now: string): Registration {
  return {
    ...current,
    body: '',
    verified: null,
    sealedToken: null,
    compactedAt: now,
    version: current.version + 1,
  };
}
