/**
 * The consumers' contract, version 1: one JSON Schema (draft-07) per event type, covering the
 * CloudEvents 1.0 envelope and the JSON `data`. This module is the source; the files under
 * `contracts/events/` are generated from it (`test/events/contracts.test.ts` keeps them in step:
 * `npx vitest run test/events -u` rewrites them) and `contracts/asyncapi.yaml` references them.
 *
 * Rules of the contract:
 * - `data` is closed (`additionalProperties: false`): the producer cannot ship a member that is
 *   not documented here, so nothing leaks to gateways by accident. Adding an optional member is a
 *   compatible v1 change (schema updated first); removing or retyping one means a `v2` topic.
 *   Consumers should read leniently (ignore members they do not know).
 * - No event, at any depth, carries a member named `registration_access_token`, `client_secret`
 *   or a private JWK member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`): a schema-level rule.
 */
import { Type, type Static } from 'typebox';
import { CLIENT_EVENT_TYPES, REGISTRATION_EVENT_TYPES, TOPICS, type ClientEventType, type RegistrationEventType } from '../domain/events.js';
import { REJECTION_CODES } from '../domain/errors.js';
import { REGISTRATION_STATUSES, REQUEST_KINDS, STAGES } from '../domain/registration.js';

export const CONTRACT_VERSION = 'v1';
export const SCHEMA_BASE_URI = 'https://dcr-pipeline.dev/contracts/events/';

/** Members no event may carry, at any depth. */
export const FORBIDDEN_MEMBERS = ['registration_access_token', 'client_secret', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

const NoSecrets = {
  description: 'No member, at any depth, may be a secret: the registration access token, a client secret or a private JWK member.',
  propertyNames: { not: { enum: [...FORBIDDEN_MEMBERS] } },
  additionalProperties: { $ref: '#/definitions/noSecrets' },
  items: { $ref: '#/definitions/noSecrets' },
};

const Strings = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
const Alg = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 16, description }));

/** `data` of `dcr.client.created|updated|deleted`: what a gateway or authorization server needs. */
export const ClientEventDataSchema = Type.Object(
  {
    client_id: Type.String({ minLength: 1, description: 'The OAuth client_id the bank issued. Key of your registry; equals the Kafka key and the CloudEvent subject.' }),
    status: Type.Enum(['active', 'deleted'], {
      description: '`active`: accept the client. `deleted` (only on dcr.client.deleted): stop issuing tokens to it and drop it from the registry.',
    }),
    client_id_issued_at: Type.Integer({ minimum: 0, description: 'When the client_id was issued (seconds since the epoch, RFC 7591).' }),
    software_id: Type.String({ minLength: 1, description: "The software's id in the regulated directory (SSA `software_id`)." }),
    org_id: Type.String({ minLength: 1, description: "The TPP organisation's id in the directory; use it to group or revoke every client of one TPP." }),
    software_roles: Type.Optional(Strings('Roles the competent authority authorised (OBIE AISP/PISP/CBPII, ...). Gate API products on them.')),
    scope: Type.Optional(Type.String({ maxLength: 4096, description: 'Space-separated scopes the client may request; a token request beyond them must fail.' })),
    redirect_uris: Type.Optional(
      Type.Array(Type.String({ format: 'uri', pattern: '^https://' }), { description: 'Exact-match allow-list for `redirect_uri` in authorization requests.' }),
    ),
    grant_types: Type.Optional(Strings('Grant types the client may use at the token endpoint.')),
    response_types: Type.Optional(Strings('Response types the client may use at the authorization endpoint (e.g. `code id_token`).')),
    jwks_uri: Type.Optional(
      Type.String({ format: 'uri', pattern: '^https://', description: "The client's public keys (directory-hosted): verify private_key_jwt assertions and request objects with them." }),
    ),
    token_endpoint_auth_method: Type.Optional(
      Type.Enum(['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'client_secret_jwt', 'client_secret_basic', 'client_secret_post', 'none'], {
        description: 'How the client authenticates at the token endpoint.',
      }),
    ),
    token_endpoint_auth_signing_alg: Alg('JWS algorithm of private_key_jwt client assertions.'),
    tls_client_auth_subject_dn: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'tls_client_auth: the subject DN (RFC 4514) the mTLS client certificate must carry (RFC 8705 §2.1.2).' }),
    ),
    tls_client_certificate_bound_access_tokens: Type.Optional(Type.Boolean({ description: 'Bind access tokens to the mTLS certificate (RFC 8705 `cnf.x5t#S256`); the gateway checks the binding.' })),
    id_token_signed_response_alg: Alg('JWS algorithm for ID tokens issued to the client.'),
    request_object_signing_alg: Alg('JWS algorithm the client signs request objects with.'),
    application_type: Type.Optional(Type.String({ minLength: 1, description: '`web` or `native` (OIDC Registration).' })),
    client_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Human-readable name, for consent screens and logs.' })),
    webhook_uris: Type.Optional(
      Type.Array(Type.String({ format: 'uri', pattern: '^https://' }), {
        description: 'Open Finance Brasil: the base URIs the client receives webhook notifications at (registered with webhook_uris, each one of the SSA software_api_webhook_uris). Start notifying within 10 minutes of the registration or update.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ClientEventData = Static<typeof ClientEventDataSchema>;

/** `data` of `dcr.registration.*`: the lifecycle of one registration request (POST or PUT). */
export const RegistrationEventDataSchema = Type.Object(
  {
    request_id: Type.String({ minLength: 1, description: 'The registration request; equals the Kafka key, the CloudEvent subject and the polling URL id.' }),
    kind: Type.Enum([...REQUEST_KINDS], { description: '`create` (POST /register) or `update` (PUT /register/{client_id}).' }),
    status: Type.Enum([...REGISTRATION_STATUSES], { description: 'Status of the request after this event.' }),
    client_id: Type.Optional(Type.String({ minLength: 1, description: 'The client, once one exists (updates; provisioned creates).' })),
    software_id: Type.Optional(Type.String({ minLength: 1, description: 'From the verified SSA; absent before verification.' })),
    org_id: Type.Optional(Type.String({ minLength: 1, description: 'From the verified SSA; absent before verification.' })),
    stage: Type.Optional(Type.Enum([...STAGES], { description: 'The stage that produced the event.' })),
    error: Type.Optional(
      Type.Enum([...REJECTION_CODES, 'server_error'], {
        description: 'rejected: the RFC 7591 error code returned to the TPP. failed: `server_error` (not the TPP\'s fault; operators can replay).',
      }),
    ),
    error_description: Type.Optional(Type.String({ maxLength: 2048, description: 'Human-readable reason, as returned to the TPP.' })),
    actor: Type.Optional(Type.String({ minLength: 1, description: 'replayed: who asked for the replay (audit).' })),
  },
  { additionalProperties: false },
);
export type RegistrationEventData = Static<typeof RegistrationEventDataSchema>;

export type EventType = ClientEventType | RegistrationEventType;
export const EVENT_TYPES: readonly EventType[] = [...CLIENT_EVENT_TYPES, ...REGISTRATION_EVENT_TYPES];

const DESCRIPTIONS: Record<EventType, string> = {
  'dcr.client.created': 'A client was provisioned. Gateways add it to their registry.',
  'dcr.client.updated': 'A client\'s metadata was replaced (RFC 7592 PUT). Gateways replace their copy: `data` is the full current state, not a diff.',
  'dcr.client.deleted': 'A client was deleted (RFC 7592 DELETE). Gateways stop accepting it.',
  'dcr.registration.received': 'A registration request was recorded and queued.',
  'dcr.registration.verified': 'Signatures, SSA and metadata were verified.',
  'dcr.registration.rejected': 'The request was refused for a fault of the TPP (final).',
  'dcr.registration.failed': 'The request could not be processed for a reason outside the TPP\'s control; operators may replay it.',
  'dcr.registration.replayed': 'An operator replayed a failed (or rejected) request.',
};

interface JsonSchemaObject {
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  [keyword: string]: unknown;
}
type DataRules = { required?: string[]; properties?: Record<string, Record<string, unknown>> };

/** Narrows a topic's data schema for one type: extra required members, per-member constraints. */
function refine(base: JsonSchemaObject, rules: DataRules | undefined): JsonSchemaObject {
  if (!rules) return base;
  const properties = { ...base.properties };
  for (const [name, rule] of Object.entries(rules.properties ?? {})) properties[name] = { ...properties[name], ...rule };
  return { ...base, properties, required: [...new Set([...(base.required ?? []), ...(rules.required ?? [])])] };
}

/** Per-type constraints on `data` on top of the topic's data schema. */
const DATA_RULES: Partial<Record<EventType, DataRules>> = {
  'dcr.client.created': { properties: { status: { const: 'active' } } },
  'dcr.client.updated': { properties: { status: { const: 'active' } } },
  'dcr.client.deleted': { properties: { status: { const: 'deleted' } } },
  'dcr.registration.received': { properties: { status: { const: 'received' } } },
  'dcr.registration.verified': { required: ['stage'] },
  'dcr.registration.replayed': { required: ['stage', 'actor'] },
  'dcr.registration.rejected': { required: ['stage', 'error', 'error_description'], properties: { status: { const: 'rejected' }, error: { not: { const: 'server_error' } } } },
  'dcr.registration.failed': { required: ['stage', 'error'], properties: { status: { const: 'failed' }, error: { const: 'server_error' } } },
};

export function topicOf(type: EventType): (typeof TOPICS)[keyof typeof TOPICS] {
  return (CLIENT_EVENT_TYPES as readonly string[]).includes(type) ? TOPICS.client : TOPICS.registration;
}

export function schemaFileName(type: EventType): string {
  return `${type}.${CONTRACT_VERSION}.schema.json`;
}

/** The JSON Schema of one event type: CloudEvents 1.0 envelope (structured JSON form) + `data`. */
export function eventSchema(type: EventType): Record<string, unknown> {
  const client = topicOf(type) === TOPICS.client;
  const data = client ? ClientEventDataSchema : RegistrationEventDataSchema;
  const envelope = Type.Object(
    {
      specversion: Type.Literal('1.0', { description: 'CloudEvents version.' }),
      id: Type.String({ minLength: 1, description: 'Unique id of the event, stable across redeliveries and republishing: dedupe on it.' }),
      type: Type.Literal(type, { description: DESCRIPTIONS[type] }),
      source: Type.String({ minLength: 1, format: 'uri-reference', description: 'The producing service, e.g. `urn:dcr:provisioner`.' }),
      subject: Type.String({ minLength: 1, description: client ? 'The client_id (the Kafka key).' : 'The request_id (the Kafka key).' }),
      time: Type.String({ format: 'date-time', description: 'When the change was committed (RFC 3339). Per key, a later change has a later or equal time: ignore an event older than what you stored.' }),
      datacontenttype: Type.Literal('application/json'),
      traceparent: Type.Optional(Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$', description: 'W3C trace context of the request (CloudEvents distributed tracing extension).' })),
      partitionkey: Type.Optional(Type.String({ description: 'CloudEvents Kafka partitioning extension; equals `subject`.' })),
      data: refine(JSON.parse(JSON.stringify(data)) as JsonSchemaObject, DATA_RULES[type]),
    },
    { additionalProperties: false },
  );
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `${SCHEMA_BASE_URI}${schemaFileName(type)}`,
    title: `${type} (${CONTRACT_VERSION})`,
    description: `${DESCRIPTIONS[type]} Topic \`${topicOf(type)}\`, CloudEvents 1.0 in Kafka binary mode: the attributes below travel as \`ce_*\` headers and \`data\` as the message value.`,
    ...JSON.parse(JSON.stringify(envelope)),
    allOf: [{ $ref: '#/definitions/noSecrets' }],
    definitions: { noSecrets: NoSecrets },
  };
}

/** Every event type's schema, keyed by type. */
export const EVENT_SCHEMAS: Readonly<Record<EventType, Record<string, unknown>>> = Object.fromEntries(EVENT_TYPES.map((t) => [t, eventSchema(t)])) as Record<
  EventType,
  Record<string, unknown>
>;
