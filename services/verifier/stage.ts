import { RetryableFailure } from '../../core/domain/errors.js';
import { registrationEvent } from '../../core/domain/events.js';
import type { Registration } from '../../core/domain/registration.js';
import type { StageSuccess, StageWork } from '../../core/pipeline/stage-runner.js';
import type { Store } from '../../core/ports/store.js';
import type { UpdateTarget } from './metadata/types.js';
import { verifyRegistrationRequest, type VerifyDeps } from './verify-request.js';

/** The verification stage: signatures, SSA and metadata; emits `dcr.registration.verified`. */
export class VerificationStage implements StageWork {
  readonly stage = 'verify' as const;

  /** `clients` reads the target of an update (RFC 7592 PUT); creations do not need it. */
  constructor(
    private readonly deps: VerifyDeps,
    private readonly clients?: Pick<Store, 'getClient'>,
  ) {}

  async run(registration: Registration): Promise<StageSuccess> {
    const update = registration.kind === 'update' ? await this.#updateTarget(registration) : undefined;
    const verified = await verifyRegistrationRequest(
      {
        body: registration.body,
        contentType: registration.contentType,
        certificate: registration.certificate,
        requestId: registration.id,
        submittedAt: Math.floor(Date.parse(registration.submittedAt) / 1000),
        ...(update ? { update } : {}),
      },
      this.deps,
    );
    return {
      registration,
      set: { verified },
      events: (updated, now) => [registrationEvent('dcr.registration.verified', updated, now, { stage: 'verify' })],
    };
  }

  /**
   * The update rules compare against the client as registered: `client_id` in the body must be the
   * path's, and the SSA's software_id/org_id must be the client's. The intake answered 401 for an
   * unknown or deleted client; one deleted since is refused by the provisioner.
   */
  async #updateTarget(registration: Registration): Promise<UpdateTarget> {
    if (!this.clients) throw new RetryableFailure('pipeline_state', 'the verifier has no client store to verify an update against');
    if (!registration.clientId) throw new RetryableFailure('pipeline_state', `update request ${registration.id} has no target client`);
    const client = await this.clients.getClient(registration.clientId);
    if (!client) throw new RetryableFailure('pipeline_state', `update request ${registration.id}: client ${registration.clientId} not found`);
    return { clientId: client.clientId, existing: { software_id: client.softwareId, org_id: client.orgId } };
  }
}
