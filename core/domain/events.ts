import { validTraceparent } from './trace-context.js';
import { newEventId } from './ids.js';
import type { Client } from './client.js';
import type { OutboxEntry, Registration, Stage } from './registration.js';

/** Topics and event types of the public event stream (CONTRACT.md "Events"). */
export const TOPICS = { client: 'dcr.client.v1', registration: 'dcr.registration.v1' } as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export const CLIENT_EVENT_TYPES = ['dcr.client.created', 'dcr.client.updated', 'dcr.client.deleted'] as const;
export type ClientEventType = (typeof CLIENT_EVENT_TYPES)[number];
export const REGISTRATION_EVENT_TYPES = [
  'dcr.registration.received',
  'dcr.registration.verified',
  'dcr.registration.rejected',
  'dcr.registration.failed',
  'dcr.registration.replayed',
] as const;
export type RegistrationEventType = (typeof REGISTRATION_EVENT_TYPES)[number];

/** The metadata members a gateway needs; never the registration access token or a private key. */
const CLIENT_EVENT_MEMBERS = [
  'software_id',
  'org_id',
  'software_roles',
  'scope',
  'redirect_uris',
  'grant_types',
  'response_types',
  'jwks_uri',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'tls_client_auth_subject_dn',
  'tls_client_certificate_bound_access_tokens',
  'id_token_signed_response_alg',
  'request_object_signing_alg',
  'application_type',
  'client_name',
  'webhook_uris',
] as const;

export function clientEventData(client: Client): Record<string, unknown> {
  const data: Record<string, unknown> = { client_id: client.clientId, status: client.status };
  for (const member of CLIENT_EVENT_MEMBERS) {
    const value = client.metadata[member];
    if (value !== undefined) data[member] = value;
  }
  // Roles travel as an array whatever the profile returns (CDR returns the SSA's space-separated string).
  if (typeof data.software_roles === 'string') data.software_roles = data.software_roles.split(/\s+/).filter(Boolean);
  data.software_id ??= client.softwareId;
  data.org_id ??= client.orgId;
  data.client_id_issued_at = client.clientIdIssuedAt;
  return data;
}

/** `id`: a {@link derivedEventId} when the change has a natural identity (see the provisioner); else random. */
export function clientEvent(type: ClientEventType, client: Client, now: Date, traceparent?: string | null, id: string = newEventId()): OutboxEntry {
  const data = clientEventData(client);
  // W3C trace context travels as the CloudEvents `traceparent` extension (see toDeliveredEvent).
  // Only a valid one: records stored before the intake validated the header may hold any text.
  const trace = validTraceparent(traceparent ?? undefined);
  if (trace) data.traceparent = trace;
  return {
    id,
    kind: 'event',
    topic: TOPICS.client,
    key: client.clientId,
    type,
    time: now.toISOString(),
    data,
    publishedAt: null,
  };
}

export function registrationEvent(
  type: RegistrationEventType,
  registration: Pick<Registration, 'id' | 'kind' | 'status' | 'clientId' | 'verified'> & { traceparent?: string | null },
  now: Date,
  extra: { stage?: Stage; error?: string; error_description?: string; actor?: string } = {},
): OutboxEntry {
  const data: Record<string, unknown> = {
    request_id: registration.id,
    kind: registration.kind,
    status: registration.status,
  };
  if (registration.clientId) data.client_id = registration.clientId;
  if (registration.verified) {
    data.software_id = registration.verified.softwareId;
    data.org_id = registration.verified.orgId;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) data[k] = v;
  const trace = validTraceparent(registration.traceparent ?? undefined);
  if (trace) data.traceparent = trace;
  return {
    id: newEventId(),
    kind: 'event',
    topic: TOPICS.registration,
    key: registration.id,
    type,
    time: now.toISOString(),
    data,
    publishedAt: null,
  };
}

/** The job that runs `stage` for a request; its id makes enqueueing idempotent per generation. */
export function stageJob(stage: Stage, requestId: string, generation: number, now: Date, traceparent?: string | null): OutboxEntry {
  return {
    id: `${requestId}.${stage}.${generation}`,
    kind: 'job',
    topic: stage,
    key: requestId,
    type: 'stage',
    time: now.toISOString(),
    data: traceparent ? { requestId, generation, traceparent } : { requestId, generation },
    publishedAt: null,
  };
}
