import type { JWK } from 'jose';
import { reject, RetryableFailure } from '../../shared/domain/errors.js';
import type { Registration } from '../../shared/domain/registration.js';
import { FetchFailed, FetchRefused, type OutboundFetcher } from '../../shared/http/outbound-fetcher.js';
import type { StageSuccess, StageWork } from '../../shared/pipeline/stage-runner.js';
import type { Profile } from '../../shared/profiles/index.js';

/** SSA claims naming revoked-key lists, per directory (SPEC §9.1). */
const REVOKED_JWKS_CLAIMS = ['software_jwks_revoked_endpoint', 'org_jwks_revoked_endpoint', 'software_jwks_inactive_uri', 'software_jwks_transport_inactive_uri'];

export interface RevocationDeps {
  profile: Profile;
  fetcher: OutboundFetcher;
}

/**
 * The directory's word on the registration (SPEC §4 step 20): organisation status, and the
 * request's signing key and the transport certificate absent from the directory's revoked-key
 * lists. Positive evidence of revocation rejects (`unapproved_software_statement`); a directory
 * that cannot be asked is a retryable failure, never a rejection and never a pass.
 */
export class RevocationStage implements StageWork {
  readonly stage = 'revocation' as const;

  constructor(private readonly deps: RevocationDeps) {}

  async run(registration: Registration): Promise<StageSuccess> {
    const verified = registration.verified;
    if (!verified) throw new RetryableFailure('pipeline_state', 'revocation stage reached without verification output');
    const { ssa } = verified;

    const statusClaim = this.deps.profile.ssa.claims.orgStatus;
    if (statusClaim) {
      const status = ssa[statusClaim];
      if (typeof status !== 'string' || status.toLowerCase() !== 'active') {
        throw reject.unapproved(`${statusClaim}: the organisation is not active in the directory (${String(status).slice(0, 20)})`);
      }
    }

    for (const claim of REVOKED_JWKS_CLAIMS) {
      const url = ssa[claim];
      if (typeof url !== 'string' || url.length === 0) continue;
      const keys = await this.#revokedKeys(url, claim);
      if (verified.signingKid && keys.some((k) => k.kid === verified.signingKid)) {
        throw reject.unapproved(`the request signing key '${verified.signingKid.slice(0, 64)}' is revoked in the directory (${claim})`);
      }
      const thumbprint = registration.certificate.thumbprint;
      if (keys.some((k) => (k as JWK & { 'x5t#S256'?: string })['x5t#S256'] === thumbprint)) {
        throw reject.unapproved(`the transport certificate is revoked in the directory (${claim})`);
      }
    }
    return { registration };
  }

  async #revokedKeys(url: string, claim: string): Promise<JWK[]> {
    try {
      const { json } = await this.deps.fetcher.fetchJson(url);
      const keys = (json as { keys?: unknown }).keys;
      if (!Array.isArray(keys)) throw new RetryableFailure('directory_unparsable', `${claim}: not a JWK Set`);
      return keys.filter((k): k is JWK => typeof k === 'object' && k !== null);
    } catch (error) {
      if (error instanceof FetchFailed || error instanceof FetchRefused) {
        throw new RetryableFailure('directory_unreachable', `${claim}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }
}
