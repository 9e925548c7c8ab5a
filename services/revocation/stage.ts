import { RetryableFailure } from '../../core/domain/errors.js';
import type { Registration } from '../../core/domain/registration.js';
import type { StageSuccess, StageWork } from '../../core/pipeline/stage-runner.js';
import type { Store } from '../../core/ports/store.js';
import type { SoftFailure } from '../../core/revocation/evaluate.js';
import type { Logger } from '../../platform/runtime/logger.js';
import { RevocationEvaluator, type RevocationEvaluatorDeps } from '../../platform/revocation/evaluator.js';

export type { RevocationPolicy } from '../../platform/revocation/evaluator.js';

export interface RevocationDeps extends RevocationEvaluatorDeps {
  /** Records soft-fail decisions in the registration's history. */
  store: Store;
  logger: Logger;
}

/**
 * The directory's word on the registration (SPEC §4 step 20, §9): the checks of
 * core/revocation/checks/ (organisation and software status in a CDR Register-shaped status API,
 * the request's signing key and the transport certificate absent from the SSA's revoked-key lists,
 * the transport certificate's chain to the client CAs and its CRL / OCSP status), each configurable
 * (`DCR_REVOCATION_CHECKS`), evaluated by core/revocation/evaluate.ts over the ports of
 * platform/revocation/.
 *
 * Outcomes: positive evidence of revocation rejects (`unapproved_software_statement`), whatever the
 * other checks say; otherwise a source that cannot be asked (unreachable, refused, 5xx, unparsable,
 * stale) is a {@link RetryableFailure} (`directory_unreachable` / `fetch_refused`), unless the
 * operator listed that check in `DCR_REVOCATION_SOFT_FAIL` (for CRL / OCSP: and the other source
 * answered), in which case the registration goes on and the decision is logged and written to its
 * history (`revocation_soft_fail`).
 */
export class RevocationStage implements StageWork {
  readonly stage = 'revocation' as const;
  readonly #deps: RevocationDeps;
  readonly #evaluator: RevocationEvaluator;

  constructor(deps: RevocationDeps) {
    this.#deps = deps;
    this.#evaluator = new RevocationEvaluator(deps);
  }

  async run(registration: Registration): Promise<StageSuccess> {
    const verified = registration.verified;
    if (!verified) throw new RetryableFailure('pipeline_state', 'revocation stage reached without verification output');
    const orgKey = typeof verified.ssa.legal_entity_id === 'string' ? verified.ssa.legal_entity_id : verified.orgId;
    const { softFailed, notes } = await this.#evaluator.evaluate({
      certificatePem: registration.certificate.pem,
      ssa: verified.ssa,
      signingKid: verified.signingKid,
      organisation: { orgKey, softwareId: verified.softwareId },
    });
    this.#deps.logger.debug({ requestId: registration.id, checks: notes }, 'revocation checks passed');
    if (softFailed.length === 0) return { registration };
    return { registration: await this.#recordSoftFail(registration, softFailed) };
  }

  async #recordSoftFail(registration: Registration, softFailed: SoftFailure[]): Promise<Registration> {
    const at = this.#evaluator.clock().toISOString();
    for (const s of softFailed) {
      this.#deps.logger.warn({ requestId: registration.id, check: s.check, reason: s.reason, err: s.message }, 'revocation check could not be made; accepted by the soft-fail policy');
    }
    const updated = await this.#deps.store.updateRegistration(registration, {
      set: { updatedAt: at },
      history: softFailed.map((s) => ({
        at,
        event: 'revocation_soft_fail',
        stage: 'revocation' as const,
        error: s.reason,
        detail: `${s.check} not checked, accepted by DCR_REVOCATION_SOFT_FAIL: ${s.message}`.slice(0, 500),
      })),
    });
    if (!updated) throw new RetryableFailure('concurrent_update', `registration ${registration.id} changed concurrently in stage revocation`);
    return updated;
  }
}
