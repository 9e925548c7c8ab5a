import { isLegacyIdentity, legacyIdentity } from '../../platform/pki/client-certificate.js';
import type { Client } from '../../core/domain/client.js';
import { reject, RetryableFailure } from '../../core/domain/errors.js';
import { clientEvent } from '../../core/domain/events.js';
import { derivedEventId, newAccessToken } from '../../core/domain/ids.js';
import type { Registration, VerifiedRequest } from '../../core/domain/registration.js';
import { hashToken } from '../../platform/crypto/token-sealer.js';
import type { StageSuccess } from '../../core/pipeline/stage-runner.js';
import { buildRegistrationResponse } from '../../core/registration/response.js';
import type { RegisteredMetadata } from '../../core/registration/registered-metadata.js';
import { awaitAtAs, deleteAtAs, upsertAtAs } from '../../core/clients/at-authorization-server.js';
import type { ProvisioningDeps } from './deps.js';

/** Whether updates rotate the registration access token in this deployment. */
export function rotatesToken(deps: Pick<ProvisioningDeps, 'profile' | 'rotateTokenOnUpdate'>): boolean {
  const rule = deps.profile.management.tokenRotation;
  if (rule === 'forbidden') return false;
  return deps.rotateTokenOnUpdate ?? rule === 'on';
}

const MAX_CONFLICTS = 10;

/**
 * Applies an RFC 7592 update (PUT) to its client (SPEC §6 "Update"): the new metadata replaces the
 * old one in one conditional write together with its `dcr.client.updated` event. The client id,
 * `client_id_issued_at` and (unless rotation is on) the registration access token stay.
 *
 * Idempotent on redelivery: the client remembers the request that last changed it, so a job that
 * finds `lastRequestId` = this request only reports the stored result. With rotation, the new token
 * is chosen once per request and sealed on the registration first (as for a creation).
 *
 * The bank's authorization server gets the new metadata before our write (an upsert keyed by the
 * client id: a retry repeats it harmlessly), and the stage waits for it to apply the committed
 * `dcr.client.updated` event, whose id derives from this request, before `registered`.
 */
export async function provisionUpdate(deps: ProvisioningDeps, registration: Registration, verified: VerifiedRequest): Promise<StageSuccess> {
  const clientId = registration.clientId;
  if (!clientId) throw new RetryableFailure('pipeline_state', `update request ${registration.id} has no target client`);
  const rotate = rotatesToken(deps);
  const current = rotate ? await reserveRotatedToken(deps, registration) : registration;

  for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
    const client = await deps.store.getClient(clientId);
    if (!client) throw reject.metadata(`client_id: no client '${clientId.slice(0, 64)}' to update`);
    const eventId = derivedEventId('dcr.client.updated', current.id);
    if (client.lastRequestId === current.id) {
      if (client.status !== 'active') {
        // Deleted (or being deleted) after this update was committed: nothing to tell the AS but that.
        await deleteAtAs(deps.as, clientId);
        return done(current, client);
      }
      await upsertAtAs(deps.as, { clientId, orgId: client.orgId, softwareId: client.softwareId, metadata: client.metadata });
      await awaitAtAs(deps.as, { clientId, eventId }, deps.applyWaitMs);
      return done(current, client);
    }
    if (client.status !== 'active') {
      // A delete (its intent recorded, `deleting`, or done) may have raced this update's AS upsert:
      // the AS must agree with the store, and the update never resurrects the client.
      await deleteAtAs(deps.as, clientId);
      throw reject.metadata('client_id: the client has been deleted');
    }
    // A client stored before identities were scoped to their CA carries the legacy form; the intake
    // matched it under today's rules (platform/pki/client-certificate.ts), and the update rewrites it.
    const legacy = isLegacyIdentity(client.tppIdentity);
    if (legacy ? legacyIdentity(current.certificate.pem) !== client.tppIdentity : client.tppIdentity !== current.certificate.tppIdentity) {
      throw reject.metadata('client_id: the client certificate does not belong to the organisation that registered this client');
    }
    const now = new Date();
    const metadata = buildRegistrationResponse(deps.profile, verified.metadata as unknown as RegisteredMetadata, verified.ssa, {
      client_id: clientId,
      client_id_issued_at: client.clientIdIssuedAt,
      registration_client_uri: `${deps.publicUrl}/register/${clientId}`,
    });
    const set: Partial<Client> = {
      metadata,
      lastRequestId: current.id,
      updatedAt: now.toISOString(),
      ...(legacy ? { tppIdentity: current.certificate.tppIdentity } : {}),
      ...(rotate && current.tokenHash ? { tokenHash: current.tokenHash } : {}),
    };
    const updated: Client = { ...client, ...set };
    await upsertAtAs(deps.as, { clientId, orgId: client.orgId, softwareId: client.softwareId, metadata });
    const stored = await deps.store.updateClient(clientId, client.version, { set, outbox: [clientEvent('dcr.client.updated', updated, now, registration.traceparent, eventId)] });
    if (stored) {
      deps.onCommitted?.();
      await awaitAtAs(deps.as, { clientId, eventId }, deps.applyWaitMs);
      return done(current, stored);
    }
    // A concurrent change (another update, a delete, or this job's twin): look again.
  }
  throw new RetryableFailure('concurrent_update', `client ${clientId} kept changing while applying update ${registration.id}`);
}

function done(registration: Registration, client: Client): StageSuccess {
  return { registration, set: { outcome: { response: client.metadata } } };
}

/** The rotated token, chosen once per request (a lost race adopts the winner's). */
async function reserveRotatedToken(deps: ProvisioningDeps, registration: Registration): Promise<Registration> {
  if (registration.tokenHash && registration.sealedToken) return registration;
  const token = newAccessToken();
  const updated = await deps.store.updateRegistration(registration, {
    set: { sealedToken: deps.sealer.seal(token, registration.id), tokenHash: hashToken(token), updatedAt: new Date().toISOString() },
  });
  if (updated) return updated;
  const latest = await deps.store.getRegistration(registration.id);
  if (latest?.tokenHash && latest.sealedToken && latest.status === 'provisioning') return latest;
  throw new RetryableFailure('concurrent_update', `registration ${registration.id} changed while reserving its rotated token`);
}
