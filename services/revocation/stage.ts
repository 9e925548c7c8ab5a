import type { JWK } from 'jose';
import type { Config, RevocationCheck } from '../../platform/config/schema.js';
import { RegistrationRejection, reject, RetryableFailure } from '../../core/domain/errors.js';
import type { Registration } from '../../core/domain/registration.js';
import type { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import type { StageSuccess, StageWork } from '../../core/pipeline/stage-runner.js';
import type { Store } from '../../core/ports/store.js';
import type { Profile } from '../../core/profiles/index.js';
import type { Logger } from '../../platform/runtime/logger.js';
import { BoundedMemo } from '../../platform/util/bounded-memo.js';
import type { RevocationCache } from './cache.js';
import {
  CertificateInvalid,
  crlDistributionPoints,
  crlVerdict,
  ocspResponders,
  parseCertificate,
  thumbprints,
  validateChain,
  type ParsedCertificate,
  type TrustAnchors,
} from './pki.js';
import { DirectorySources, SourceUnavailable } from './sources.js';

/** SSA claims naming revoked / inactive key lists, per directory (SPEC §9.1). */
export const REVOKED_JWKS_CLAIMS = ['software_jwks_revoked_endpoint', 'org_jwks_revoked_endpoint', 'software_jwks_inactive_uri', 'software_jwks_transport_inactive_uri'] as const;

/** The order checks are reported in: the first positive evidence in this order is the one answered. */
const CHECK_ORDER: readonly RevocationCheck[] = ['ssa-status', 'status-api', 'revoked-jwks', 'chain', 'crl', 'ocsp'];

export type RevocationPolicy = Config['revocation'];

export interface RevocationDeps {
  profile: Profile;
  fetcher: OutboundFetcher;
  policy: RevocationPolicy;
  /** The client CA bundle (`rt.trust.clientCaPems`). */
  anchors: TrustAnchors;
  cache: RevocationCache;
  /** Cap of every cache lifetime (`config.fetch.cacheMaxAgeSeconds`). */
  maxAgeSeconds: number;
  leewaySeconds: number;
  /** Records soft-fail decisions in the registration's history. */
  store: Store;
  logger: Logger;
  clock?: () => Date;
}

/** The credentials one evaluation judges (a registration's, or those of an authenticated call). */
export interface CredentialsToCheck {
  /** PEM of the transport certificate. */
  certificatePem: string;
  /** Verified SSA claims (status claims, revoked-key list URLs); null: the SSA-based checks are skipped. */
  ssa: Record<string, unknown> | null;
  /** The request signing key to look for in the revoked lists; '' for none. */
  signingKid: string;
  /** Organisation (`legal_entity_id`, else the SSA org id) and software for the status API; null: skipped. */
  organisation: { orgKey: string; softwareId: string } | null;
}

/** What one check concluded when it did not reject and could ask its source. */
export interface CheckNote {
  check: RevocationCheck;
  note: string;
}

/** A soft-failed check, accepted by policy and recorded. */
export interface SoftFailure {
  check: RevocationCheck;
  reason: string;
  message: string;
}

const ACTIVE = 'active';

function clip(value: unknown, max = 40): string {
  return String(value).replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/**
 * The directory's word on the registration (SPEC §4 step 20, §9): organisation and software status
 * (SSA and, when configured, a CDR Register-shaped status API), the request's signing key and the
 * transport certificate absent from the revoked-key lists, the transport certificate's chain to the
 * client CAs and its CRL / OCSP status. Each check is configurable (`DCR_REVOCATION_CHECKS`).
 *
 * Outcomes: positive evidence of revocation rejects (`unapproved_software_statement`), whatever the
 * other checks say; otherwise a source that cannot be asked (unreachable, refused, 5xx, unparsable,
 * stale) is a {@link RetryableFailure} (`directory_unreachable` / `fetch_refused`), unless the
 * operator listed that check in `DCR_REVOCATION_SOFT_FAIL` (for CRL / OCSP: and the other source
 * answered), in which case the registration goes on and the decision is logged and written to its
 * history (`revocation_soft_fail`).
 */
export class RevocationStage implements StageWork {
  readonly stage = 'revocation' as const;
  readonly #deps: RevocationDeps;
  readonly #sources: DirectorySources;
  readonly #clock: () => Date;
  /** Parsed transport certificates (TPPs come back with the same one); parsing is pure. */
  readonly #certificates = new BoundedMemo<string, ParsedCertificate>(4096);
  /** Their CRL distribution points and OCSP responders (extension parsing), per parsed certificate. */
  readonly #endpoints = new WeakMap<ParsedCertificate, { crl: string[]; ocsp: string[] }>();

  constructor(deps: RevocationDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? (() => new Date());
    this.#sources = new DirectorySources({
      fetcher: deps.fetcher,
      cache: deps.cache,
      maxAgeSeconds: deps.maxAgeSeconds,
      leewaySeconds: deps.leewaySeconds,
      clock: this.#clock,
    });
  }

  async run(registration: Registration): Promise<StageSuccess> {
    const verified = registration.verified;
    if (!verified) throw new RetryableFailure('pipeline_state', 'revocation stage reached without verification output');
    const orgKey = typeof verified.ssa.legal_entity_id === 'string' ? verified.ssa.legal_entity_id : verified.orgId;
    const { softFailed, notes } = await this.evaluate({
      certificatePem: registration.certificate.pem,
      ssa: verified.ssa,
      signingKid: verified.signingKid,
      organisation: { orgKey, softwareId: verified.softwareId },
    });
    this.#deps.logger.debug({ requestId: registration.id, checks: notes }, 'revocation checks passed');
    if (softFailed.length === 0) return { registration };
    return { registration: await this.#recordSoftFail(registration, softFailed) };
  }

  /**
   * The directory's word on a set of credentials, with the stage's rules: positive evidence throws
   * a {@link RegistrationRejection}; sources that cannot answer throw a {@link RetryableFailure},
   * except the checks soft-fail lets pass (returned). Also used on every authenticated call of the
   * intake (services/revocation/credential-check.ts) with the presented certificate: the SSA-based
   * checks run only when `ssa` is given, the status API only with an `organisation`.
   */
  async evaluate(input: CredentialsToCheck): Promise<{ softFailed: SoftFailure[]; notes: CheckNote[] }> {
    const enabled = new Set(this.#deps.policy.checks);
    const certificate = lazy(() => {
      try {
        const pem = input.certificatePem;
        return this.#certificates.through(pem, () => parseCertificate(pem));
      } catch (error) {
        throw error instanceof CertificateInvalid ? reject.unapproved(`the transport certificate: ${error.message}`) : error;
      }
    });
    const issuer = lazy(() => this.#issuerOf(certificate(), enabled.has('chain')));
    const { ssa, organisation } = input;

    const checks: Array<[RevocationCheck, () => Promise<string>]> = [];
    if (enabled.has('ssa-status') && ssa) checks.push(['ssa-status', async () => this.#ssaStatus(ssa)]);
    if (enabled.has('status-api') && this.#deps.policy.statusUrl && organisation) {
      const statusUrl = this.#deps.policy.statusUrl;
      checks.push(['status-api', () => this.#statusApi(statusUrl, organisation.orgKey, organisation.softwareId)]);
    }
    if (enabled.has('revoked-jwks') && ssa) checks.push(['revoked-jwks', () => this.#revokedJwks(ssa, input.signingKid, certificate())]);
    if (enabled.has('chain')) checks.push(['chain', async () => (issuer(), 'chains to a client CA')]);
    // Certificate status sources that gave a verified answer in this run (soft-fail needs one).
    const answered = new Set<RevocationCheck>();
    if (enabled.has('crl')) checks.push(['crl', () => this.#crl(certificate(), issuer(), answered)]);
    if (enabled.has('ocsp')) checks.push(['ocsp', () => this.#ocsp(certificate(), issuer(), answered)]);

    const settled = await Promise.all(
      checks.map(async ([check, fn]) => {
        try {
          return { check, ok: true as const, note: await fn() };
        } catch (error) {
          return { check, ok: false as const, error };
        }
      }),
    );
    settled.sort((a, b) => CHECK_ORDER.indexOf(a.check) - CHECK_ORDER.indexOf(b.check));

    // 1. Positive evidence wins over everything else: final.
    for (const r of settled) if (!r.ok && r.error instanceof RegistrationRejection) throw r.error;
    // 2. Anything that is not a source problem is a bug or an infrastructure failure: retried.
    for (const r of settled) if (!r.ok && !(r.error instanceof SourceUnavailable)) throw r.error;
    // 3. Sources that could not answer: retryable, unless soft-fail is allowed for that check.
    const softFailed: SoftFailure[] = [];
    const blocking: Array<{ check: RevocationCheck; error: SourceUnavailable }> = [];
    for (const r of settled) {
      if (r.ok || !(r.error instanceof SourceUnavailable)) continue;
      if (this.#softFailAllowed(r.check, answered)) softFailed.push({ check: r.check, reason: r.error.reason, message: r.error.message });
      else blocking.push({ check: r.check, error: r.error });
    }
    const [firstBlocking] = blocking;
    if (firstBlocking) {
      const reason = blocking.every((b) => b.error.reason === 'fetch_refused') ? 'fetch_refused' : 'directory_unreachable';
      throw new RetryableFailure(reason, blocking.map((b) => `${b.check}: ${b.error.message}`).join('; '), { cause: firstBlocking.error });
    }
    const notes: CheckNote[] = settled.filter((r) => r.ok).map((r) => ({ check: r.check, note: r.ok ? r.note : '' }));
    return { softFailed, notes };
  }

  // ---------------------------------------------------------------- checks

  /** SSA `org_status` (profile claim) and OFB role statuses. */
  #ssaStatus(ssa: Record<string, unknown>): string {
    const claims = this.#deps.profile.ssa.claims;
    const notes: string[] = [];
    if (claims.orgStatus) {
      const status = ssa[claims.orgStatus];
      if (typeof status !== 'string' || status.toLowerCase() !== ACTIVE) {
        throw reject.unapproved(`${claims.orgStatus}: the organisation is not active in the directory (${clip(status, 20)})`);
      }
      notes.push(`${claims.orgStatus} Active`);
    }
    const roles = claims.roles;
    if (roles.kind === 'object-array') {
      const entries = ssa[roles.claim];
      if (Array.isArray(entries)) {
        const active = entries.filter(
          (e) => typeof e === 'object' && e !== null && String((e as Record<string, unknown>)[roles.statusField]).toLowerCase() === roles.activeStatus.toLowerCase(),
        );
        if (active.length === 0) throw reject.unapproved(`${roles.claim}: the software has no active role in the directory`);
        notes.push(`${active.length} active role(s)`);
      }
    }
    return notes.join(', ') || 'no status in this profile';
  }

  /** CDR Register-shaped `data-recipients/status` and `brands/software-products/status`. */
  async #statusApi(statusUrl: string, orgKey: string, softwareId: string): Promise<string> {
    const [org, software] = await Promise.all([
      this.#listedStatus(`${statusUrl}/data-recipients/status`, 'directory organisation status', 'legalEntityId', orgKey),
      this.#listedStatus(`${statusUrl}/data-recipients/brands/software-products/status`, 'directory software status', 'softwareProductId', softwareId),
    ]);
    if (org.status === undefined) throw reject.unapproved(`the organisation '${clip(orgKey, 64)}' is not listed by the directory`);
    if (org.status.toLowerCase() !== ACTIVE) throw reject.unapproved(`the organisation is not active in the directory (status ${clip(org.status, 20)})`);
    if (software.status === undefined) throw reject.unapproved(`the software '${clip(softwareId, 64)}' is not listed by the directory`);
    if (software.status.toLowerCase() !== ACTIVE) throw reject.unapproved(`the software is not active in the directory (status ${clip(software.status, 20)})`);
    return `organisation and software ACTIVE${org.cached && software.cached ? ' (cached)' : ''}`;
  }

  /**
   * The status of `id` in a Register status list. An id missing from a cached list is asked again
   * fresh (it may be newer than the cache): only a fresh list's silence counts as evidence.
   */
  async #listedStatus(url: string, what: string, idField: string, id: string): Promise<{ status: string | undefined; cached: boolean }> {
    const list = await this.#sources.json(url, what);
    const status = statusOf(list.value, idField, id, url);
    if (status !== undefined || !list.cached) return { status, cached: list.cached };
    const fresh = await this.#sources.json(url, what, { fresh: true });
    return { status: statusOf(fresh.value, idField, id, url), cached: false };
  }

  /** The request's signing key and the transport certificate are absent from the revoked JWKS. */
  async #revokedJwks(ssa: Record<string, unknown>, signingKid: string, cert: ParsedCertificate): Promise<string> {
    const urls = REVOKED_JWKS_CLAIMS.map((claim) => [claim, ssa[claim]] as const).filter((e): e is [typeof e[0], string] => typeof e[1] === 'string' && e[1].length > 0);
    const { x5t, x5tS256 } = thumbprints(cert.der);
    const der64 = cert.der.toString('base64');
    const answers = await Promise.allSettled(urls.map(async ([claim, url]) => ({ claim, keys: keysOf((await this.#sources.json(url, claim)).value, claim) })));
    const lists = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    for (const { claim, keys } of lists) {
      if (signingKid && keys.some((k) => k.kid === signingKid)) {
        throw reject.unapproved(`the request signing key '${clip(signingKid, 64)}' is revoked in the directory (${claim})`);
      }
      const listed = keys.some((k) => {
        const x = k as JWK & { 'x5t#S256'?: string };
        return x['x5t#S256'] === x5tS256 || x.x5t === x5t || (Array.isArray(x.x5c) && x.x5c[0] === der64);
      });
      if (listed) throw reject.unapproved(`the transport certificate is revoked in the directory (${claim})`);
    }
    // No positive evidence in the lists that answered; any list that did not answer blocks (or soft-fails).
    const problems = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
    const [firstProblem] = problems;
    if (firstProblem !== undefined) {
      if (problems.length === 1 || !problems.every((p) => p instanceof SourceUnavailable)) throw firstProblem;
      const unavailable = problems as SourceUnavailable[];
      const reason = unavailable.every((p) => p.reason === 'fetch_refused') ? 'fetch_refused' : 'directory_unreachable';
      throw new SourceUnavailable(reason, unavailable.map((p) => p.message).join('; '));
    }
    return urls.length === 0 ? 'no revoked-key list in the SSA' : `not listed in ${urls.length} revoked-key list(s)`;
  }

  async #crl(cert: ParsedCertificate, issuer: ParsedCertificate, answered: Set<RevocationCheck>): Promise<string> {
    const urls = this.#endpointsOf(cert).crl;
    if (urls.length === 0) return 'no CRL distribution point';
    const { value: crl, url, cached } = await this.#sources.crl(urls, issuer);
    const verdict = crlVerdict(crl, cert);
    answered.add('crl');
    if (verdict.revoked) {
      throw reject.unapproved(`the transport certificate (serial ${cert.serial.slice(0, 40)}) is revoked by its CA's CRL${verdict.revokedAt ? ` since ${verdict.revokedAt.toISOString()}` : ''}`);
    }
    return `not in the CRL ${url}${cached ? ' (cached)' : ''}`;
  }

  async #ocsp(cert: ParsedCertificate, issuer: ParsedCertificate, answered: Set<RevocationCheck>): Promise<string> {
    const urls = this.#endpointsOf(cert).ocsp;
    if (urls.length === 0) return 'no OCSP responder';
    const { value: verdict, url, cached } = await this.#sources.ocsp(urls, cert, issuer);
    if (verdict.status !== 'unknown') answered.add('ocsp');
    if (verdict.status === 'revoked') {
      throw reject.unapproved(`the transport certificate (serial ${cert.serial.slice(0, 40)}) is revoked (OCSP)${verdict.revokedAt ? ` since ${verdict.revokedAt.toISOString()}` : ''}`);
    }
    if (verdict.status === 'unknown') {
      if (this.#deps.policy.ocspUnknown === 'reject') throw reject.unapproved('the transport certificate is unknown to its CA (OCSP)');
      throw new SourceUnavailable('directory_unreachable', `OCSP ${url}: the responder does not know the transport certificate (unknown)`);
    }
    return `OCSP good from ${url}${cached ? ' (cached)' : ''}`;
  }

  // ---------------------------------------------------------------- helpers

  #endpointsOf(cert: ParsedCertificate): { crl: string[]; ocsp: string[] } {
    let endpoints = this.#endpoints.get(cert);
    if (!endpoints) {
      endpoints = { crl: crlDistributionPoints(cert), ocsp: ocspResponders(cert) };
      this.#endpoints.set(cert, endpoints);
    }
    return endpoints;
  }

  /**
   * Whether a check whose source could not answer may be passed over: only when the operator listed
   * it in `DCR_REVOCATION_SOFT_FAIL`, and, for the certificate status sources, only when the other
   * one (CRL for OCSP, OCSP for CRL) gave a verified, current answer in this run: soft-fail never
   * leaves the transport certificate's status unknown.
   */
  #softFailAllowed(check: RevocationCheck, answered: ReadonlySet<RevocationCheck>): boolean {
    if (!this.#deps.policy.softFail.includes(check)) return false;
    if (check === 'ocsp') return answered.has('crl');
    if (check === 'crl') return answered.has('ocsp');
    return true;
  }

  /**
   * The transport certificate's issuer among the client CAs. With the `chain` check on, a certificate
   * that does not chain is rejected; with it off, CRL/OCSP evidence simply cannot be verified.
   */
  #issuerOf(cert: ParsedCertificate, chainCheck: boolean): ParsedCertificate {
    if (chainCheck) {
      try {
        return validateChain(cert, this.#deps.anchors, this.#clock());
      } catch (error) {
        if (error instanceof CertificateInvalid) throw reject.unapproved(error.message);
        throw error;
      }
    }
    const issuer = this.#deps.anchors.issuersOf(cert)[0];
    if (!issuer) throw new SourceUnavailable('directory_unreachable', "the transport certificate's issuer is not among the client CAs: its CRL/OCSP answers cannot be verified");
    return issuer;
  }

  async #recordSoftFail(registration: Registration, softFailed: SoftFailure[]): Promise<Registration> {
    const at = this.#clock().toISOString();
    for (const s of softFailed) {
      this.#deps.logger.warn({ requestId: registration.id, check: s.check, reason: s.reason, err: s.message }, 'revocation check could not be made; accepted by the soft-fail policy');
    }
    const updated = await this.#deps.store.updateRegistration(registration, {
      set: { updatedAt: at },
      history: softFailed.map((s) => ({
        at,
        event: 'revocation_soft_fail',
        stage: 'revocation' as const,
        error: s.reason,
        detail: `${s.check} not checked, accepted by DCR_REVOCATION_SOFT_FAIL: ${s.message}`.slice(0, 500),
      })),
    });
    if (!updated) throw new RetryableFailure('concurrent_update', `registration ${registration.id} changed concurrently in stage revocation`);
    return updated;
  }
}

function lazy<T>(fn: () => T): () => T {
  let done = false;
  let value: T;
  let failure: unknown;
  let failed = false;
  return () => {
    if (!done) {
      done = true;
      try {
        value = fn();
      } catch (error) {
        failed = true;
        failure = error;
      }
    }
    if (failed) throw failure;
    return value;
  };
}

function keysOf(json: unknown, claim: string): JWK[] {
  const keys = typeof json === 'object' && json !== null ? (json as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new SourceUnavailable('directory_unreachable', `${claim}: the answer is not a JWK Set`);
  return keys.filter((k): k is JWK => typeof k === 'object' && k !== null);
}

/** `{data: [{<idField>, status}]}` → the status of `id`, undefined when not listed. */
function statusOf(json: unknown, idField: string, id: string, url: string): string | undefined {
  const data = typeof json === 'object' && json !== null ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new SourceUnavailable('directory_unreachable', `${url}: the answer has no data list`);
  for (const item of data) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    if (record[idField] === id) {
      if (typeof record.status !== 'string') throw new SourceUnavailable('directory_unreachable', `${url}: an entry has no status`);
      return record.status;
    }
  }
  return undefined;
}
