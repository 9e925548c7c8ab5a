/**
 * Inputs of the pure metadata validation (SPEC §4 steps 7, 8, 10–18).
 */
import type { RdnSequence, SubjectAltNames } from '../../../platform/pki/dn.js';
import type { BodyEnvelope, Profile } from '../../../core/profiles/index.js';
import type { RegisteredMetadata } from '../../../core/registration/registered-metadata.js';

/** The mTLS client certificate, as far as the metadata rules need it. */
export interface ClientCertificateInfo {
  /** Subject in ASN.1 order (`certificateSubject(pem)` from platform/pki/dn.ts). */
  readonly subject: RdnSequence;
  /** PEM of the leaf certificate; needed only for `tls_client_auth_san_*` (SANs are read from it). */
  readonly pem?: string;
  /** Pre-extracted SANs (takes precedence over `pem`). */
  readonly subjectAltNames?: SubjectAltNames;
  /**
   * The certificate's public key is one of the keys of the software's active JWKS named by the SSA
   * (SPEC §7.3 "alternative binding"; set by services/verifier/verify-request.ts). It stands in for
   * the subject convention (OU/CN, UID …), not for the organisation: a certificate that names an
   * organisation must still name the SSA's.
   */
  readonly inSoftwareJwks?: boolean;
}

/** Bank policy for this evaluation (configuration plus the pinned clock). */
export interface MetadataPolicy {
  /** Accepted `aud` values (`DCR_AUDIENCE`). */
  readonly audiences: readonly string[];
  /** Trusted SSA issuers (`DCR_SSA_ISSUER`). */
  readonly ssaIssuers: readonly string[];
  /** Current time, epoch seconds. */
  readonly now: number;
  /** Overrides the profile leeway (clamped to 0..60 s, SPEC §2.4). */
  readonly leewaySeconds?: number;
  /**
   * Overrides the profile's SSA max age (`DCR_SSA_MAX_AGE_SECONDS`); null disables the age check,
   * undefined keeps the profile default.
   */
  readonly ssaMaxAgeSeconds?: number | null;
  /** Overrides the profile's max `exp - iat` (`DCR_MAX_REQUEST_LIFETIME_SECONDS`, ≥ 3600). */
  readonly maxRequestLifetimeSeconds?: number;
}

/** An update (RFC 7592 PUT): the existing client's identity. */
export interface UpdateTarget {
  /** `{ClientId}` of the path. */
  readonly clientId: string;
  readonly existing: Pick<RegisteredMetadata, 'software_id' | 'org_id'>;
}

/** What the metadata rules and the custom validators (custom-validator.ts) all read. Everything is verified and read-only. */
export interface VerifiedFacts {
  readonly profile: Profile;
  /** Verified request JWT payload, or the JSON body in JSON profiles. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Verified SSA payload; null only when the profile's SSA is optional and none was sent. */
  readonly ssa: Readonly<Record<string, unknown>> | null;
  /** The mTLS client certificate. */
  readonly certificate: ClientCertificateInfo | null;
}

export interface MetadataInput extends VerifiedFacts {
  readonly policy: MetadataPolicy;
  /** How the request arrived; default `profile.body.defaultEnvelope`. JWT claim rules run for `jws` only. */
  readonly envelope?: BodyEnvelope;
  /** Present for PUT /register/{ClientId}. */
  readonly update?: UpdateTarget;
}

/** Internal: what every rule module receives. */
export interface RuleContext extends VerifiedFacts {
  readonly policy: MetadataPolicy;
  readonly envelope: BodyEnvelope;
  readonly now: number;
  readonly leeway: number;
}
