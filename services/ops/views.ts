import { Type, type Static } from 'typebox';
import { CLIENT_STATUSES, type Client, type ClientStatus } from '../../core/domain/client.js';
import type { Store } from '../../core/ports/store.js';
import { REGISTRATION_STATUSES, STAGES, type Registration, type Stage } from '../../core/domain/registration.js';

export const ErrorBody = Type.Object({ error: Type.String(), error_description: Type.String() });

export const StatusSchema = Type.Enum(REGISTRATION_STATUSES);
export const StageSchema = Type.Enum(STAGES);
/** An RFC 3339 timestamp (normalised to UTC ISO before it reaches the store). */
export const Timestamp = Type.String({ format: 'date-time', maxLength: 40 });
/** Who did it: recorded in the audit trail. */
export const ActorHeader = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,63}$' });

export const RequestIdParams = Type.Object({ requestId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }) });
export type RequestIdParams = Static<typeof RequestIdParams>;

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const RegistrationSummary = Type.Object(
  {
    request_id: Type.String(),
    kind: Type.String(),
    status: StatusSchema,
    client_id: NullableString,
    software_id: NullableString,
    org_id: NullableString,
    tpp: Type.String({ description: 'the submitter identity from its transport certificate' }),
    failed_stage: Type.Union([StageSchema, Type.Null()]),
    stage: Type.Union([StageSchema, Type.Null()], {
      description: 'the stage it waits for or runs in, failed in, or was rejected in; null once registered',
    }),
    client_status: Type.Union([Type.Enum(CLIENT_STATUSES), Type.Null()], {
      description: 'the status of its client now (a registered client may have been deleted since); null without a client',
    }),
    last_error: NullableString,
    error: Type.Union([Type.String(), Type.Null()], { description: 'the rejection code of a rejected request' }),
    generation: Type.Integer(),
    submitted_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
export type RegistrationSummary = Static<typeof RegistrationSummary>;

export const HistoryView = Type.Object(
  {
    at: Type.String(),
    event: Type.String(),
    stage: Type.Optional(StageSchema),
    from: Type.Optional(StatusSchema),
    to: Type.Optional(StatusSchema),
    attempt: Type.Optional(Type.Integer()),
    error: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
    actor: Type.Optional(Type.String()),
    worker: Type.Optional(Type.String({ description: 'the worker instance that wrote a stage entry (service@host:pid)' })),
  },
  { additionalProperties: false },
);

/**
 * One registration for operators: its state, attempts, errors and full history. Deliberately not the
 * request body (it carries the SSA and signed claims), the sealed registration access token or its
 * hash; the response schema drops anything not listed here even if a future field slips in.
 */
export const RegistrationDetail = Type.Object(
  {
    ...RegistrationSummary.properties,
    content_type: Type.String(),
    certificate: Type.Object(
      { subject_dn: Type.String(), issuer_dn: Type.String(), serial_number: Type.String(), thumbprint: Type.String() },
      { additionalProperties: false },
    ),
    attempts: Type.Record(Type.String(), Type.Integer()),
    error_description: NullableString,
    history: Type.Array(HistoryView),
  },
  { additionalProperties: false },
);
export type RegistrationDetail = Static<typeof RegistrationDetail>;

const STAGE_OF_STATUS: Partial<Record<Registration['status'], Stage>> = {
  received: 'verify',
  verifying: 'verify',
  checking_revocation: 'revocation',
  provisioning: 'provision',
};

/** The stage a registration is in, failed in or was rejected in (the last transition to `rejected` names it). */
export function stageOf(r: Registration): Stage | null {
  if (r.status === 'failed') return r.failedStage ?? null;
  if (r.status === 'rejected') {
    for (let i = r.history.length - 1; i >= 0; i--) {
      const h = r.history[i];
      if (h?.to === 'rejected') return h.stage ?? null;
    }
    return null;
  }
  return STAGE_OF_STATUS[r.status] ?? null;
}

export function summaryOf(r: Registration, clientStatus: ClientStatus | null = null): RegistrationSummary {
  return {
    request_id: r.id,
    kind: r.kind,
    status: r.status,
    client_id: r.clientId ?? null,
    software_id: r.verified?.softwareId ?? null,
    org_id: r.verified?.orgId ?? null,
    tpp: r.certificate.tppIdentity,
    failed_stage: r.status === 'failed' ? (r.failedStage ?? null) : null,
    stage: stageOf(r),
    client_status: r.clientId ? clientStatus : null,
    last_error: r.lastError ?? null,
    error: r.outcome?.error ?? null,
    generation: r.generation,
    submitted_at: r.submittedAt,
    updated_at: r.updatedAt,
  };
}

export function detailOf(r: Registration, clientStatus: ClientStatus | null = null): RegistrationDetail {
  const attempts: Record<string, number> = {};
  for (const [stage, n] of Object.entries(r.attempts)) if (typeof n === 'number') attempts[stage] = n;
  return {
    ...summaryOf(r, clientStatus),
    content_type: r.contentType,
    certificate: {
      subject_dn: r.certificate.subjectDn,
      issuer_dn: r.certificate.issuerDn,
      serial_number: r.certificate.serialNumber,
      thumbprint: r.certificate.thumbprint,
    },
    attempts,
    error_description: r.outcome?.error_description ?? null,
    history: r.history.map((h) => {
      const entry: Static<typeof HistoryView> = { at: h.at, event: h.event };
      if (h.stage) entry.stage = h.stage;
      if (h.from) entry.from = h.from;
      if (h.to) entry.to = h.to;
      if (h.attempt !== undefined) entry.attempt = h.attempt;
      if (h.error !== undefined) entry.error = h.error;
      if (h.detail !== undefined) entry.detail = h.detail;
      if (h.actor !== undefined) entry.actor = h.actor;
      if (h.worker !== undefined) entry.worker = h.worker;
      return entry;
    }),
  };
}

/** A provisioned client for operators: who it belongs to, its status and the requests behind it (no token hash). */
export const ClientView = Type.Object(
  {
    client_id: Type.String(),
    status: Type.Enum(CLIENT_STATUSES),
    client_name: NullableString,
    org_id: Type.String(),
    software_id: Type.String(),
    tpp: Type.String(),
    request_id: Type.String({ description: 'the registration request that created it' }),
    last_request_id: Type.String({ description: 'the registration request that last set its metadata (the create or an RFC 7592 update)' }),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
export type ClientView = Static<typeof ClientView>;

export function clientViewOf(c: Client): ClientView {
  const name = c.metadata.client_name;
  return {
    client_id: c.clientId,
    status: c.status,
    client_name: typeof name === 'string' ? name : null,
    org_id: c.orgId,
    software_id: c.softwareId,
    tpp: c.tppIdentity,
    request_id: c.requestId,
    last_request_id: c.lastRequestId,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** The current status of the clients of `registrations` (one store query). */
export async function clientStatusesOf(store: Store, registrations: readonly Registration[]): Promise<Map<string, ClientStatus>> {
  const ids = [...new Set(registrations.map((r) => r.clientId).filter((id): id is string => typeof id === 'string' && id.length > 0))];
  if (ids.length === 0) return new Map();
  const clients = await store.listClients({ clientIds: ids, limit: ids.length });
  return new Map(clients.map((c) => [c.clientId, c.status]));
}

/** A search term: one exact id (request, client, software, organisation or TPP identity). */
export const SearchTerm = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' });

/** An RFC 3339 timestamp as the store compares it (UTC ISO); undefined stays undefined. */
export function isoOrUndefined(value: string | undefined): string | undefined {
  return value === undefined ? undefined : new Date(value).toISOString();
}
