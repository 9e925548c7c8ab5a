import { registrationEvent } from '../../shared/domain/events.js';
import type { Registration } from '../../shared/domain/registration.js';
import type { StageSuccess, StageWork } from '../../shared/pipeline/stage-runner.js';
import { verifyRegistrationRequest, type VerifyDeps } from './verify-request.js';

/** The verification stage: signatures, SSA and metadata; emits `dcr.registration.verified`. */
export class VerificationStage implements StageWork {
  readonly stage = 'verify' as const;

  constructor(private readonly deps: VerifyDeps) {}

  async run(registration: Registration): Promise<StageSuccess> {
    const verified = await verifyRegistrationRequest(
      { body: registration.body, contentType: registration.contentType, certificate: registration.certificate, requestId: registration.id },
      this.deps,
    );
    return {
      registration,
      set: { verified },
      events: (updated, now) => [registrationEvent('dcr.registration.verified', updated, now, { stage: 'verify' })],
    };
  }
}
