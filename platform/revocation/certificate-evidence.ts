/**
 * The `CertificateEvidence` port of core/revocation/check.ts over X.509 (platform/pki/revocation-evidence.ts)
 * and the directory sources: one instance per evaluation, parsing the transport certificate and
 * finding its issuer at most once, on first use.
 */
import { reject } from '../../core/domain/errors.js';
import { SourceUnavailable, type CertificateEvidence, type Sourced, type TransportCertificate } from '../../core/revocation/check.js';
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
} from '../pki/revocation-evidence.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import type { DirectorySources } from './sources.js';

/** What is kept across evaluations: parsing and extension reading are pure in the certificate. */
export class CertificateMemo {
  /** Parsed transport certificates (TPPs come back with the same one). */
  readonly parsed = new BoundedMemo<string, ParsedCertificate>(4096);
  /** Thumbprints and CRL / OCSP endpoints, per parsed certificate. */
  readonly facts = new WeakMap<ParsedCertificate, TransportCertificate>();
}

export interface CertificateEvidenceDeps {
  anchors: TrustAnchors;
  sources: DirectorySources;
  memo: CertificateMemo;
  clock: () => Date;
  /**
   * The `chain` check is on: a certificate that does not chain to a client CA is positive evidence.
   * Off: CRL / OCSP answers simply cannot be verified without a known issuer (retryable).
   */
  chainEnforced: boolean;
}

export class TransportCertificateEvidence implements CertificateEvidence {
  readonly #pem: string;
  readonly #deps: CertificateEvidenceDeps;
  readonly #parsed: () => ParsedCertificate;
  readonly #issuer: () => ParsedCertificate;

  constructor(pem: string, deps: CertificateEvidenceDeps) {
    this.#pem = pem;
    this.#deps = deps;
    this.#parsed = lazy(() => {
      try {
        return deps.memo.parsed.through(this.#pem, () => parseCertificate(this.#pem));
      } catch (error) {
        throw error instanceof CertificateInvalid ? reject.unapproved(`the transport certificate: ${error.message}`) : error;
      }
    });
    this.#issuer = lazy(() => this.#issuerOf(this.#parsed()));
  }

  certificate(): TransportCertificate {
    const cert = this.#parsed();
    let facts = this.#deps.memo.facts.get(cert);
    if (!facts) {
      const { x5t, x5tS256 } = thumbprints(cert.der);
      facts = { serial: cert.serial, x5t, x5tS256, der64: cert.der.toString('base64'), crlDistributionPoints: crlDistributionPoints(cert), ocspResponders: ocspResponders(cert) };
      this.#deps.memo.facts.set(cert, facts);
    }
    return facts;
  }

  chain(): void {
    this.#issuer();
  }

  async crl(urls: readonly string[]): Promise<Sourced<{ revoked: boolean; revokedAt?: Date }>> {
    const { value, url, cached } = await this.#deps.sources.crl(urls, this.#issuer());
    const verdict = crlVerdict(value, this.#parsed());
    return { value: { revoked: verdict.revoked, ...(verdict.revokedAt ? { revokedAt: verdict.revokedAt } : {}) }, url, cached };
  }

  async ocsp(urls: readonly string[]): Promise<Sourced<{ status: 'good' | 'revoked' | 'unknown'; revokedAt?: Date }>> {
    const { value, url, cached } = await this.#deps.sources.ocsp(urls, this.#parsed(), this.#issuer());
    return { value: { status: value.status, ...(value.revokedAt ? { revokedAt: value.revokedAt } : {}) }, url, cached };
  }

  /**
   * The transport certificate's issuer among the client CAs. With the `chain` check on, a certificate
   * that does not chain is rejected; with it off, CRL/OCSP evidence simply cannot be verified.
   */
  #issuerOf(cert: ParsedCertificate): ParsedCertificate {
    if (this.#deps.chainEnforced) {
      try {
        return validateChain(cert, this.#deps.anchors, this.#deps.clock());
      } catch (error) {
        if (error instanceof CertificateInvalid) throw reject.unapproved(error.message);
        throw error;
      }
    }
    const issuer = this.#deps.anchors.issuersOf(cert)[0];
    if (!issuer) throw new SourceUnavailable('directory_unreachable', "the transport certificate's issuer is not among the client CAs: its CRL/OCSP answers cannot be verified");
    return issuer;
  }
}

/** `fn()` once; its value or its error, every time after. */
function lazy<T>(fn: () => T): () => T {
  let state: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  return () => {
    if (!state) {
      try {
        state = { ok: true, value: fn() };
      } catch (error) {
        state = { ok: false, error };
      }
    }
    if (state.ok) return state.value;
    throw state.error;
  };
}
