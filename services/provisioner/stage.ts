import type { Client } from '../../shared/domain/client.js';
import { reject, RetryableFailure } from '../../shared/domain/errors.js';
import { clientEvent } from '../../shared/domain/events.js';
import { newAccessToken, newClientId } from '../../shared/domain/ids.js';
import type { Registration, VerifiedRequest } from '../../shared/domain/registration.js';
import { hashToken, type TokenSealer } from '../../shared/crypto/token-sealer.js';
import type { StageSuccess, StageWork } from '../../shared/pipeline/stage-runner.js';
import { SoftwareAlreadyRegistered, type Store } from '../../shared/ports/store.js';
import type { Profile } from '../../shared/profiles/index.js';
import { buildRegistrationResponse } from '../../shared/registration/response.js';
import type { RegisteredMetadata } from '../../shared/registration/registered-metadata.js';
import { provisionUpdate } from './update-client.js';

export interface ProvisioningDeps {
  profile: Profile;
  store: Store;
  sealer: TokenSealer;
  publicUrl: string;
  /** RFC 7592 §2.2 token rotation on update (SPEC §6: configurable, default off). */
  rotateTokenOnUpdate?: boolean | undefined;
}

/**
 * Provisions a request: kind `update` applies an RFC 7592 update ({@link provisionUpdate});
 * kind `create` creates the client exactly once (SPEC §4 step 22). Steps, each idempotent:
 * 1. reserve a client id and a registration access token on the registration (sealed; hash kept);
 * 2. insert the client with its `dcr.client.created` event in one write (same id again: no-op);
 * 3. the runner commits `registered` with the response.
 * A crash between any two steps resumes at the first one not done; no second client can appear.
 */
export class ProvisioningStage implements StageWork {
  readonly stage = 'provision' as const;

  constructor(private readonly deps: ProvisioningDeps) {}

  async run(registration: Registration): Promise<StageSuccess> {
    const verified = registration.verified;
    if (!verified) throw new RetryableFailure('pipeline_state', 'provisioning reached without verification output');
    if (registration.kind === 'update') return provisionUpdate(this.deps, registration, verified);
    if (registration.kind !== 'create') throw new RetryableFailure('unsupported', `request kind '${String(registration.kind)}' is not provisioned by this version`);

    const reserved = await this.#reserveIdentity(registration);
    const clientId = reserved.clientId as string;
    const now = new Date();
    const issuedAt = Math.floor(now.getTime() / 1000);
    const response = buildRegistrationResponse(this.deps.profile, verified.metadata as unknown as RegisteredMetadata, verified.ssa, {
      client_id: clientId,
      client_id_issued_at: issuedAt,
      registration_client_uri: `${this.deps.publicUrl}/register/${clientId}`,
    });
    const client: Client = {
      clientId,
      requestId: registration.id,
      lastRequestId: registration.id,
      orgId: verified.orgId,
      softwareId: verified.softwareId,
      status: 'active',
      metadata: response,
      tokenHash: reserved.tokenHash as string,
      certificateThumbprint: registration.certificate.thumbprint,
      tppIdentity: registration.certificate.tppIdentity,
      clientIdIssuedAt: issuedAt,
      ...softwareKey(this.deps.profile, verified),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      version: 0,
    };
    const { inserted, client: stored } = await this.deps.store
      .insertClient(client, [clientEvent('dcr.client.created', client, now, registration.traceparent)])
      .catch(rejectSecondRegistration);
    if (!inserted && stored.requestId !== registration.id) {
      throw new RetryableFailure('client_id_collision', `client id ${clientId} already belongs to request ${stored.requestId}`);
    }
    return { registration: reserved, set: { outcome: { response: stored.metadata } } };
  }

  /** Step 1: the client id and token, chosen once per request (a lost race adopts the winner's). */
  async #reserveIdentity(registration: Registration): Promise<Registration> {
    if (registration.clientId && registration.tokenHash) return registration;
    const clientId = newClientId();
    const token = newAccessToken();
    const updated = await this.deps.store.updateRegistration(registration, {
      set: { clientId, sealedToken: this.deps.sealer.seal(token, registration.id), tokenHash: hashToken(token), updatedAt: new Date().toISOString() },
    });
    if (updated) return updated;
    const latest = await this.deps.store.getRegistration(registration.id);
    if (latest?.clientId && latest.tokenHash && latest.status === 'provisioning') return latest;
    throw new RetryableFailure('concurrent_update', `registration ${registration.id} changed while reserving its client id`);
  }
}

/**
 * One registration per software (profile `registrationsPerSoftware: 'one'`: CDR, Open Finance
 * Brasil): the key the store keeps unique among active clients, the software id scoped to the SSA
 * issuer that vouched for it.
 */
export function softwareKey(profile: Profile, verified: Pick<VerifiedRequest, 'ssa' | 'softwareId'>): { activeSoftwareKey?: string } {
  if (profile.registrationsPerSoftware !== 'one') return {};
  const issuer = typeof verified.ssa.iss === 'string' ? verified.ssa.iss : '';
  return { activeSoftwareKey: `${issuer} ${verified.softwareId}` };
}

/** The store's uniqueness conflict is the TPP's final answer (CDR reference Data Holder ERR-DCR-001). */
function rejectSecondRegistration(error: unknown): never {
  if (error instanceof SoftwareAlreadyRegistered) {
    throw reject.metadata(
      `software_id: this software is already registered as client ${error.existingClientId}; update it with PUT /register/${error.existingClientId} or delete it first`,
    );
  }
  throw error;
}
