/**
 * The shape of one revocation check (SPEC §4 step 20, §9): a name, what it needs from the
 * credentials under evaluation, and `check(ctx) → verdict`. Each check is one file of
 * core/revocation/checks/, registered in core/revocation/checks/index.ts; the evaluation
 * (core/revocation/evaluate.ts) runs the enabled ones and combines their verdicts.
 *
 * Checks see the directory and the transport certificate only through the ports below
 * (implemented in platform/revocation/: the outbound fetcher, the shared cache, X.509/CRL/OCSP).
 */
import type { RejectionCode } from '../domain/errors.js';
import { DcrError } from '../errors/dcr-error.js';

/** Why a source could not give an answer: never the TPP's fault. */
export type UnavailableReason = 'directory_unreachable' | 'fetch_refused';

/** A directory, CRL or OCSP source gave no usable answer (unreachable, refused, 5xx, unparsable, stale). */
export class SourceUnavailable extends DcrError {
  readonly code = 'ERR_SOURCE_UNAVAILABLE';
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Several sources of one check failed: one {@link SourceUnavailable} naming them all (`fetch_refused` only when every one was refused). */
export function mergeUnavailable(problems: readonly SourceUnavailable[], fallback: string): SourceUnavailable {
  const [first] = problems;
  if (problems.length === 1 && first) return first;
  const reason: UnavailableReason = problems.length > 0 && problems.every((p) => p.reason === 'fetch_refused') ? 'fetch_refused' : 'directory_unreachable';
  return new SourceUnavailable(reason, problems.length > 0 ? problems.map((p) => p.message).join('; ') : fallback);
}

/** The credentials one evaluation judges (a registration's, or those of an authenticated call). */
export interface CredentialsToCheck {
  /** PEM of the transport certificate. */
  certificatePem: string;
  /** Verified SSA claims (revoked-key list URLs); null: the checks needing `ssa` are skipped. */
  ssa: Record<string, unknown> | null;
  /** The request signing key to look for in the revoked lists; '' for none. */
  signingKid: string;
  /** Organisation (`legal_entity_id`, else the SSA org id) and software for the status API; null: skipped. */
  organisation: { orgKey: string; softwareId: string } | null;
}

/** An answer of a source, and where it came from. */
export interface Sourced<T> {
  value: T;
  url: string;
  cached: boolean;
}

/** Port: JSON documents of the directory (status lists, revoked JWKS), fetched through the outbound policy and cached. */
export interface DirectoryDocuments {
  /** `fresh` skips the cache (and refreshes it). Throws {@link SourceUnavailable}. */
  json(url: string, what: string, options?: { fresh?: boolean }): Promise<Sourced<unknown>>;
}

/** The transport certificate, as far as the checks read it. */
export interface TransportCertificate {
  /** Lower-case hex without leading zero bytes. */
  readonly serial: string;
  /** base64url SHA-1 / SHA-256 thumbprints of the DER (`x5t`, `x5t#S256`). */
  readonly x5t: string;
  readonly x5tS256: string;
  /** base64 of the DER (`x5c[0]` form). */
  readonly der64: string;
  readonly crlDistributionPoints: readonly string[];
  readonly ocspResponders: readonly string[];
}

/**
 * Port: the transport certificate under evaluation and its status evidence
 * (platform/revocation/certificate-evidence.ts). An unparsable certificate, and with the `chain`
 * check on a certificate that does not chain, are positive evidence: those calls throw a
 * `RegistrationRejection`; evidence that cannot be had throws {@link SourceUnavailable}.
 */
export interface CertificateEvidence {
  certificate(): TransportCertificate;
  /** Chained to a client CA (issuer name and signature, validity, CA flag, clientAuth EKU); else throws. */
  chain(): void;
  /** The first usable CRL of `urls` (signed by the issuing CA, current): is the certificate listed? */
  crl(urls: readonly string[]): Promise<Sourced<{ revoked: boolean; revokedAt?: Date }>>;
  /** The first usable OCSP answer of `urls` (signed by the CA or a responder it certified, current). */
  ocsp(urls: readonly string[]): Promise<Sourced<{ status: 'good' | 'revoked' | 'unknown'; revokedAt?: Date }>>;
}

/** The revocation policy the checks read (`config.revocation`). */
export interface RevocationCheckPolicy {
  /** CDR Register-shaped status API base (`DCR_DIRECTORY_STATUS_URL`); undefined: none. */
  statusUrl?: string | undefined;
  /** OCSP `unknown`: retried (default) or rejected (`DCR_OCSP_UNKNOWN`). */
  ocspUnknown: 'retry' | 'reject';
}

/** What a check may read. */
export interface CheckContext {
  readonly input: CredentialsToCheck;
  readonly policy: RevocationCheckPolicy;
  readonly directory: DirectoryDocuments;
  readonly certificate: CertificateEvidence;
}

/** What a check needs; a check whose need is absent from the credentials or the policy is not run. */
export type CheckNeed =
  /** `input.ssa` (the registration's or the call's verified SSA). */
  | 'ssa'
  /** `input.organisation`. */
  | 'organisation'
  /** `policy.statusUrl`. */
  | 'status-url';

/**
 * A check's conclusion.
 * - accepted: no evidence against; `evidence` says whether a source gave a verified answer (the
 *   CRL / OCSP soft-fail rule needs the other one to have answered).
 * - refused: positive evidence; final (`400 <code>`).
 * - retryable: the source could not answer; retried, unless soft-fail covers the check.
 */
export type CheckVerdict =
  | { readonly outcome: 'accepted'; readonly note: string; readonly evidence: boolean }
  | { readonly outcome: 'refused'; readonly code: RejectionCode; readonly description: string }
  | { readonly outcome: 'retryable'; readonly reason: UnavailableReason; readonly message: string };

export const accepted = (note: string, evidence = false): CheckVerdict => ({ outcome: 'accepted', note, evidence });
export const refused = (description: string, code: RejectionCode = 'unapproved_software_statement'): CheckVerdict => ({ outcome: 'refused', code, description });
export const retryable = (reason: UnavailableReason, message: string): CheckVerdict => ({ outcome: 'retryable', reason, message });

export interface RevocationCheck<Name extends string = string> {
  /** The name in `DCR_REVOCATION_CHECKS` / `DCR_REVOCATION_SOFT_FAIL`, history and logs. */
  readonly name: Name;
  /** One line for the documentation and logs. */
  readonly describes: string;
  readonly needs: readonly CheckNeed[];
  /**
   * Soft-fail (`DCR_REVOCATION_SOFT_FAIL`) passes this check over only when the named check gave a
   * verified answer in the same run (CRL for OCSP and the reverse: the certificate's status is never
   * left unknown). Absent: soft-fail applies as listed.
   */
  readonly softFailOnlyWith?: string;
  /**
   * The port calls may also throw: a `RegistrationRejection` is read as refused, a
   * {@link SourceUnavailable} as retryable; anything else is a bug or an infrastructure failure.
   */
  check(ctx: CheckContext): Promise<CheckVerdict>;
}

/** Printable, bounded form of a value from the directory or the SSA (for descriptions). */
export function clip(value: unknown, max = 40): string {
  return String(value).replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}
