import type { Client } from '../../core/domain/client.js';
import { reject, RetryableFailure } from '../../core/domain/errors.js';
import { clientEvent } from '../../core/domain/events.js';
import { derivedEventId, newAccessToken, newClientId } from '../../core/domain/ids.js';
import type { Registration, VerifiedRequest } from '../../core/domain/registration.js';
import { hashToken } from '../../platform/crypto/token-sealer.js';
import type { StageSuccess, StageWork } from '../../core/pipeline/stage-runner.js';
import { SoftwareAlreadyRegistered } from '../../core/ports/store.js';
import type { Profile } from '../../core/profiles/index.js';
import { buildRegistrationResponse } from '../../core/registration/response.js';
import type { RegisteredMetadata } from '../../core/registration/registered-metadata.js';
import { awaitAtAs, deleteAtAs, upsertAtAs } from '../../core/clients/at-authorization-server.js';
import type { ProvisioningDeps } from './deps.js';
import { provisionUpdate } from './update-client.js';

export type { ProvisioningDeps } from './deps.js';

/**
 * Provisions a request: kind `update` applies an RFC 7592 update ({@link provisionUpdate});
 * kind `create` creates the client exactly once (SPEC §4 step 22). Steps, each idempotent:
 * 1. reserve a client id and a registration access token on the registration (sealed; hash kept);
 * 2. upsert the client at the bank's authorization server, keyed by that client id;
 * 3. insert the client with its `dcr.client.created` event in one write (same id again: no-op);
 *    the event id derives from the request, so every attempt names the same event;
 * 4. wait until the AS has applied it (only the `events` adapter has anything to wait for);
 * 5. the runner commits `registered` with the response.
 * A crash between any two steps resumes at the first one not done: the client id is the one
 * reserved in step 1, so neither our store nor the AS can end up with a second client.
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
    const existing = await this.deps.store.getClient(clientId);
    if (existing && existing.requestId !== registration.id) {
      throw new RetryableFailure('client_id_collision', `client id ${clientId} already belongs to request ${existing.requestId}`);
    }
    if (existing && existing.status !== 'active') {
      // Deleted or being deleted already (through the poll's client id, after an `events` 202): the AS must agree.
      await deleteAtAs(this.deps.as, clientId);
      return { registration: reserved, set: { outcome: { response: existing.metadata } } };
    }
    // A redelivery after step 3 tells the AS the metadata that was committed, not a rebuilt copy.
    const metadata = existing?.metadata ?? response;
    await upsertAtAs(this.deps.as, { clientId, orgId: verified.orgId, softwareId: verified.softwareId, metadata });
    const eventId = derivedEventId('dcr.client.created', registration.id);
    let stored = existing;
    if (!stored) {
      const result = await this.deps.store
        .insertClient(client, [clientEvent('dcr.client.created', client, now, registration.traceparent, eventId)])
        .catch((error: unknown) => this.#rejectSecondRegistration(error, clientId));
      if (!result.inserted && result.client.requestId !== registration.id) {
        throw new RetryableFailure('client_id_collision', `client id ${clientId} already belongs to request ${result.client.requestId}`);
      }
      if (result.inserted) this.deps.onCommitted?.();
      stored = result.client;
    }
    await awaitAtAs(this.deps.as, { clientId, eventId }, this.deps.applyWaitMs);
    return { registration: reserved, set: { outcome: { response: stored.metadata } } };
  }

  /**
   * The store's uniqueness conflict (one registration per software) is the TPP's final answer (CDR
   * reference Data Holder ERR-DCR-001): the client this request already upserted at the AS is
   * removed there first (idempotent), so the refused registration leaves nothing behind.
   */
  async #rejectSecondRegistration(error: unknown, clientId: string): Promise<never> {
    if (!(error instanceof SoftwareAlreadyRegistered)) throw error;
    await deleteAtAs(this.deps.as, clientId);
    throw reject.metadata(
      `software_id: this software is already registered as client ${error.existingClientId}; update it with PUT /register/${error.existingClientId} or delete it first`,
    );
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

