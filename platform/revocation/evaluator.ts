/**
 * The revocation checks wired to their ports: the directory sources (outbound fetcher + shared
 * cache) and the transport certificate's evidence (X.509, CRL, OCSP against the client CAs). One
 * evaluator per process role: the revocation stage (services/revocation/stage.ts) and the intake's
 * check of authenticated calls (platform/revocation/credential-check.ts) each hold one.
 */
import type { RevocationCache } from '../../core/ports/revocation-cache.js';
import type { CheckContext, CredentialsToCheck } from '../../core/revocation/check.js';
import { evaluateRevocation, type Evaluation } from '../../core/revocation/evaluate.js';
import type { Config } from '../config/schema.js';
import type { OutboundFetcher } from '../http/outbound-fetcher.js';
import type { TrustAnchors } from '../pki/revocation-evidence.js';
import { CertificateMemo, TransportCertificateEvidence } from './certificate-evidence.js';
import { DirectorySources } from './sources.js';

export type RevocationPolicy = Config['revocation'];

export interface RevocationEvaluatorDeps {
  fetcher: OutboundFetcher;
  policy: RevocationPolicy;
  /** The client CA bundle (`rt.trust.clientCaPems`). */
  anchors: TrustAnchors;
  cache: RevocationCache;
  /** Cap of every cache lifetime (`config.fetch.cacheMaxAgeSeconds`). */
  maxAgeSeconds: number;
  leewaySeconds: number;
  clock?: () => Date;
}

export class RevocationEvaluator {
  readonly #deps: RevocationEvaluatorDeps;
  readonly #sources: DirectorySources;
  readonly #memo = new CertificateMemo();
  readonly #clock: () => Date;

  constructor(deps: RevocationEvaluatorDeps) {
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

  get clock(): () => Date {
    return this.#clock;
  }

  /**
   * The directory's word on a set of credentials (core/revocation/evaluate.ts): positive evidence
   * throws a `RegistrationRejection`; sources that cannot answer throw a `RetryableFailure`, except
   * the checks soft-fail lets pass (returned). Checks needing the SSA run only when `ssa` is given,
   * the status API only with an `organisation`.
   */
  evaluate(input: CredentialsToCheck): Promise<Evaluation> {
    const { policy } = this.#deps;
    const ctx: CheckContext = {
      input,
      policy,
      directory: this.#sources,
      certificate: new TransportCertificateEvidence(input.certificatePem, {
        anchors: this.#deps.anchors,
        sources: this.#sources,
        memo: this.#memo,
        clock: this.#clock,
        chainEnforced: policy.checks.includes('chain'),
      }),
    };
    return evaluateRevocation(ctx, policy);
  }
}
