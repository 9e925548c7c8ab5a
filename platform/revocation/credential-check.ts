import { createHash } from 'node:crypto';
import { RegistrationRejection, RetryableFailure } from '../../core/domain/errors.js';
import type { RevocationCache } from '../../core/ports/revocation-cache.js';
import type { CredentialsToCheck } from '../../core/revocation/check.js';
import { TrustAnchors } from '../pki/revocation-evidence.js';
import type { Logger } from '../runtime/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { revocationCache } from './cache.js';
import { RevocationEvaluator } from './evaluator.js';

export type { CredentialsToCheck };

/** The directory's verdict on the credentials of an authenticated call. */
export type CredentialVerdict =
  | { ok: true }
  /** Positive evidence (revoked certificate, organisation or software not active …): refuse the call. */
  | { ok: false; revoked: true; reason: string }
  /** A source could not answer and soft-fail does not cover it: the call cannot be judged now. */
  | { ok: false; revoked: false; reason: string };

/** How long a verdict is reused before the directory is asked again (capped by the fetch cache cap). */
export const VERDICT_TTL_SECONDS = 30;
const MAX_VERDICTS = 4096;

/**
 * The revocation stage's checks (core/revocation/checks/, through {@link RevocationEvaluator}: same checks, same
 * `DCR_REVOCATION_CHECKS`, soft-fail and OCSP-unknown rules, same cache of directory answers) applied
 * to the certificate presented on an authenticated call (status polling, RFC 7592 GET/PUT/DELETE),
 * with the organisation and SSA the client or request was registered with. Verdicts are reused for
 * {@link VERDICT_TTL_SECONDS} (at most `DCR_FETCH_CACHE_MAX_AGE_SECONDS`; 0: never), per certificate
 * and organisation; a source problem is never reused.
 */
export class CredentialCheck {
  readonly #evaluator: RevocationEvaluator;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #ttlMs: number;
  readonly #verdicts = new Map<string, { verdict: CredentialVerdict; until: number }>();
  readonly #cache: RevocationCache;

  constructor(rt: Runtime) {
    this.#cache = revocationCache(rt);
    this.#evaluator = new RevocationEvaluator({
      fetcher: rt.fetcher,
      policy: rt.config.revocation,
      anchors: new TrustAnchors(rt.trust.clientCaPems),
      cache: this.#cache,
      maxAgeSeconds: rt.config.fetch.cacheMaxAgeSeconds,
      leewaySeconds: rt.config.leewaySeconds,
    });
    this.#logger = rt.logger;
    this.#ttlMs = Math.min(VERDICT_TTL_SECONDS, rt.config.fetch.cacheMaxAgeSeconds) * 1000;
  }

  async check(credentials: CredentialsToCheck): Promise<CredentialVerdict> {
    const key = createHash('sha256')
      .update(JSON.stringify([credentials.certificatePem, credentials.organisation, credentials.ssa ? JSON.stringify(credentials.ssa) : null]))
      .digest('base64url');
    const now = Date.now();
    const hit = this.#verdicts.get(key);
    if (hit && hit.until > now) return hit.verdict;
    if (hit) this.#verdicts.delete(key);
    let verdict: CredentialVerdict;
    try {
      const { softFailed } = await this.#evaluator.evaluate(credentials);
      for (const s of softFailed) this.#logger.warn({ check: s.check, reason: s.reason, err: s.message }, 'revocation check of an authenticated call could not be made; accepted by the soft-fail policy');
      verdict = { ok: true };
    } catch (error) {
      if (error instanceof RegistrationRejection) verdict = { ok: false, revoked: true, reason: error.errorDescription };
      else if (error instanceof RetryableFailure) return { ok: false, revoked: false, reason: `${error.reason}: ${error.message}` };
      else throw error;
    }
    if (this.#ttlMs > 0) {
      if (this.#verdicts.size >= MAX_VERDICTS) {
        const oldest = this.#verdicts.keys().next().value;
        if (oldest !== undefined) this.#verdicts.delete(oldest);
      }
      this.#verdicts.set(key, { verdict, until: now + this.#ttlMs });
    }
    return verdict;
  }

  async close(): Promise<void> {
    await this.#cache.close();
  }
}
