import { Type, type Static } from 'typebox';

/**
 * The registration request: one TPP submission travelling through the pipeline. Its state machine
 *
 *   received -> verifying -> checking_revocation -> provisioning -> registered
 *                    \______________\___________________\________-> rejected (final, the TPP's fault)
 *                                                                 -> failed   (not the TPP's fault; replayable)
 *
 * Each state change is one atomic write of the record together with its outbox entries
 * (events and the next stage's job), so a crash at any point loses nothing.
 */
export const REGISTRATION_STATUSES = [
  'received',
  'verifying',
  'checking_revocation',
  'provisioning',
  'registered',
  'rejected',
  'failed',
] as const;
export type RegistrationStatus = (typeof REGISTRATION_STATUSES)[number];

export const FINAL_STATUSES: readonly RegistrationStatus[] = ['registered', 'rejected'];
/** Statuses after which the pipeline does nothing more unless an operator replays. */
export const SETTLED_STATUSES: readonly RegistrationStatus[] = ['registered', 'rejected', 'failed'];

export const STAGES = ['verify', 'revocation', 'provision'] as const;
export type Stage = (typeof STAGES)[number];

/** The status a registration has while it waits for or runs in a stage. */
export const STAGE_STATUS: Record<Stage, { queued: RegistrationStatus; running: RegistrationStatus }> = {
  verify: { queued: 'received', running: 'verifying' },
  revocation: { queued: 'checking_revocation', running: 'checking_revocation' },
  provision: { queued: 'provisioning', running: 'provisioning' },
};

export const NEXT_STAGE: Record<Stage, Stage | null> = { verify: 'revocation', revocation: 'provision', provision: null };

export const REQUEST_KINDS = ['create', 'update'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** What the intake learned of the mTLS client certificate. */
export const PresentedCertificateSchema = Type.Object({
  pem: Type.String(),
  /** base64url SHA-256 of the DER (RFC 8705 `x5t#S256`). */
  thumbprint: Type.String(),
  subjectDn: Type.String(),
  issuerDn: Type.String(),
  serialNumber: Type.String(),
  /** The submitter's identity used to scope status polling (OU / organizationIdentifier / thumbprint). */
  tppIdentity: Type.String(),
});
export type PresentedCertificate = Static<typeof PresentedCertificateSchema>;

export interface HistoryEntry {
  at: string;
  /** `transition`, `attempt_failed`, `replayed`, `redelivered` ... */
  event: string;
  stage?: Stage;
  from?: RegistrationStatus;
  to?: RegistrationStatus;
  attempt?: number;
  error?: string;
  detail?: string;
  actor?: string;
  /** Stage entries: the worker instance that wrote it (`service@host:pid`), for operators and the chaos check. */
  worker?: string;
}

/** An event or a job waiting to leave with the state change that produced it. */
export interface OutboxEntry {
  /** Stable id: the CloudEvent id for events, the job id for jobs. A retried publish keeps it. */
  id: string;
  kind: 'event' | 'job';
  /** Event: topic base name (`dcr.client.v1`); job: the stage. */
  topic: string;
  key: string;
  /** Event: CloudEvent type; job: `stage`. */
  type: string;
  time: string;
  data: Record<string, unknown>;
  publishedAt?: string | null;
}

export interface VerifiedRequest {
  /** Verified SSA claims. */
  ssa: Record<string, unknown>;
  /** Normalised client metadata the client will be registered with. */
  metadata: Record<string, unknown>;
  signingKid: string;
  softwareJwksUri: string;
  orgId: string;
  softwareId: string;
}

export interface RegistrationOutcome {
  error?: string;
  error_description?: string;
  /** The registration response without the registration access token (that one stays sealed). */
  response?: Record<string, unknown>;
}

export interface Registration {
  id: string;
  kind: RequestKind;
  /** Target client for updates; assigned client for creates once provisioning starts. */
  clientId?: string | null;
  status: RegistrationStatus;
  /** The stage a `failed` registration failed in; a replay restarts there. */
  failedStage?: Stage | null;
  /** Replays bump it; job ids include it so a replay is a new job. */
  generation: number;
  submissionKey: string;
  contentType: string;
  body: string;
  certificate: PresentedCertificate;
  submittedAt: string;
  updatedAt: string;
  verified?: VerifiedRequest | null;
  outcome?: RegistrationOutcome | null;
  /** Registration access token sealed (AES-GCM) for delivery to the submitter only; the client keeps a hash. */
  sealedToken?: string | null;
  tokenHash?: string | null;
  attempts: Partial<Record<Stage, number>>;
  lastError?: string | null;
  history: HistoryEntry[];
  version: number;
  traceparent?: string | null;
  /**
   * When retention compacted the record (README "Retention"): a registered request keeps its ids,
   * outcome and history; its body, verified claims, certificate PEM and sealed token are gone.
   */
  compactedAt?: string | null;
}

/** Statuses of a request still moving through the pipeline (counted by the per-TPP quota). */
export const IN_FLIGHT_STATUSES: readonly RegistrationStatus[] = ['received', 'verifying', 'checking_revocation', 'provisioning'];

export function isSettled(status: RegistrationStatus): boolean {
  return SETTLED_STATUSES.includes(status);
}
