/**
 * The declarative policy profile (SPEC §8, §12 item 2 "data tables per profile").
 *
 * A profile is plain data: every difference between OBIE 3.1/3.2/3.3, FAPI 2.0, CDR, Open Finance
 * Brasil and plain RFC 7591 lives in one of these fields, and the verifier's rule modules
 * (`services/verifier/metadata/*`) read them. No profile carries functions or code paths: a profile
 * is JSON-serialisable data, documented field by field in docs/profiles/*.md and compared across
 * profiles by test/profiles/ (every field is read: test/profiles/no-ignored-field.test.ts). A few of
 * its values are overridden from configuration (platform/config/load.ts): `time.leewaySeconds`
 * (`DCR_LEEWAY_SECONDS`), `time.maxLifetimeSeconds` (`DCR_MAX_REQUEST_LIFETIME_SECONDS`), the SSA
 * max age (`DCR_SSA_MAX_AGE_SECONDS`), `ssa.defaultIssuers` (`DCR_SSA_ISSUER`) and the token rotation
 * on update (`DCR_ROTATE_REGISTRATION_TOKEN`, refused where the profile forbids it).
 *
 * Regular expressions are stored as `{ source, flags }` strings for the same reason.
 */

/** Profile names, in the order `DCR_PROFILE` documents them (same list as platform/config/schema.ts). */
export const PROFILE_NAMES = ['obie-3.3', 'obie-3.2', 'obie-3.1', 'fapi2', 'cdr', 'openfinance-br', 'rfc7591'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** JWS algorithms the pipeline knows about. `none`, `HS*` and `RS*` are never allowed anywhere (SPEC §10.1). */
export type JwsAlgorithm = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA';

export type TokenEndpointAuthMethod =
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'client_secret_jwt'
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'none';

/** RFC 8705 §2.1.2 subject metadata names for `tls_client_auth`. */
export type TlsClientAuthClaim =
  | 'tls_client_auth_subject_dn'
  | 'tls_client_auth_san_dns'
  | 'tls_client_auth_san_uri'
  | 'tls_client_auth_san_ip'
  | 'tls_client_auth_san_email';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';

/** A regular expression kept as data. */
export interface PatternSpec {
  readonly source: string;
  readonly flags?: string;
  /** Human wording used in error descriptions, e.g. "Base62, 1 to 22 characters". */
  readonly description: string;
}

export type BodyEnvelope = 'jws' | 'json';

/** How the software roles are read from the SSA. */
export type RolesShape =
  /** `["AISP", "PISP"]` (OBIE `software_roles`). */
  | { readonly kind: 'string-array'; readonly claim: string }
  /** `"data-recipient-software-product"` or a space-separated list (CDR `software_roles`). */
  | { readonly kind: 'space-string'; readonly claim: string }
  /**
   * `[{ role, status, authorisation_domain }]` (OFB `software_statement_roles`); only entries whose
   * status equals `activeStatus` (case-insensitive) count.
   */
  | {
      readonly kind: 'object-array';
      readonly claim: string;
      readonly roleField: string;
      readonly statusField: string;
      readonly activeStatus: string;
    };

/** Where the allowed scope set of a client comes from (SPEC §2.3 "Scope"). */
export type ScopeSource =
  /** Union of `roleScopes[role]` over the SSA roles (OBIE, OFB, FAPI2 here). */
  | { readonly kind: 'roles'; readonly roleScopes: Readonly<Record<string, readonly string[]>> }
  /** A subset of the space-separated scope string in this SSA claim (CDR `scope`). */
  | { readonly kind: 'ssa-claim'; readonly claim: string }
  /** Any syntactically valid scope token (RFC 7591 with no directory). */
  | { readonly kind: 'any' };

/** How the SSA's time claims are judged (SPEC §3.4 step 4). */
export interface SsaTimeRule {
  /** `iat` must be present. */
  readonly requireIat: boolean;
  /** `exp` must be present (CDR). When present it is always honoured (now ≤ exp + leeway). */
  readonly requireExp: boolean;
  /**
   * Maximum age of the SSA (`now - iat`) in seconds, the profile's own rule; `null` = the profile
   * sets none. `DCR_SSA_MAX_AGE_SECONDS` may tighten it, never loosen or switch it off.
   */
  readonly maxAgeSeconds: number | null;
}

/** A rule binding the mTLS client certificate to the SSA (SPEC §7.3). */
export type CertificateBindingRule =
  /** OB legacy certificates: `OU` = SSA org_id and `CN` = SSA software_id. */
  | 'ob-legacy'
  /** OBWAC/OBSEAL (ETSI-like): `CN` = SSA org_id (organisation-level binding). */
  | 'obwac'
  /** OFB: `UID` = software_id and (`organizationIdentifier` = `OFBBR-`+org_id or `OU` = org_id). */
  | 'ofb';

export type ManagementTokenKind =
  /** RFC 7592 registration access token issued with the registration. */
  | 'registration_access_token'
  /** A client-credentials access token of the same client, issued by the bank's AS (OBIE, CDR). */
  | 'client_credentials_access_token';

/** Per-claim SSA names (SSA claim names differ per directory). */
export interface SsaClaimNames {
  readonly softwareId: string;
  readonly orgId: string;
  readonly redirectUris: string;
  readonly jwksUri: string;
  readonly roles: RolesShape;
  /** Organisation status claim (`Active` required, case-insensitive); null = not in this SSA. */
  readonly orgStatus: string | null;
  /**
   * OBIE `organisation_competent_authority_claims` object: `status` must be Active and the roles
   * needed by the requested scope must appear in `authorisations[*].roles`. null = not checked.
   */
  readonly competentAuthority: string | null;
  /** `software_mode` (`Test`/`Live`), used by the example custom validator. */
  readonly softwareMode: string | null;
}

export interface Profile {
  readonly name: ProfileName;
  readonly title: string;
  /** Primary source documents (short names of SPEC's source table). */
  readonly sources: readonly string[];

  /** SPEC §1 rule 2. */
  readonly body: {
    /** Accepted `Content-Type` media types (parameters ignored), the first is the primary one. */
    readonly contentTypes: readonly string[];
    /** Which envelope each content type implies. */
    readonly envelopes: Readonly<Record<string, BodyEnvelope>>;
    /** Envelope assumed when the caller does not say. */
    readonly defaultEnvelope: BodyEnvelope;
  };

  /** SPEC §2.1, §3.1, §8 "signing algs". */
  readonly algorithms: {
    /** Allowed `alg` of the request JWS header. */
    readonly request: readonly JwsAlgorithm[];
    /** Allowed `alg` of the SSA JWS header. */
    readonly ssa: readonly JwsAlgorithm[];
    /**
     * Allowed values of the `*_alg` metadata claims (`id_token_signed_response_alg`,
     * `request_object_signing_alg`, `token_endpoint_auth_signing_alg`,
     * `backchannel_authentication_request_signing_alg`). The first is the default when a claim is
     * optional and omitted, and the first value advertised by discovery (conformance-dcr uses the
     * first `request_object_signing_alg_values_supported` value, SPEC §11.1).
     */
    readonly metadata: readonly JwsAlgorithm[];
  };

  /** Request claims (SPEC §2.2). */
  readonly claims: {
    /** Always required (any envelope). */
    readonly required: readonly string[];
    /** Additionally required when the request arrived as a signed JWT. */
    readonly requiredWhenSigned: readonly string[];
    /**
     * Optional metadata (RFC 7591 §2 / OIDC Registration) copied into the registered metadata when
     * present and well-formed. Claims neither handled by a rule nor listed here are ignored
     * (OBIE DCR 3.2: the ASPSP MAY ignore claims it cannot process).
     */
    readonly passThrough: readonly string[];
    /** Claims whose presence is rejected (`invalid_client_metadata`). */
    readonly forbidden: readonly string[];
    /**
     * Metadata taken from the SSA when the SSA carries it; it overrides the request value
     * (RFC 7591 §3.1.1; OFB item 10). Map: registered claim → SSA claim.
     */
    readonly ssaPrecedence: Readonly<Record<string, string>>;
  };

  /** SPEC §2.2 `iss`, `aud`, `jti`, `software_id` (JWS envelope only for iss/aud/jti). */
  readonly identity: {
    /** `iss` must equal the SSA software id (false: `iss` is not compared with the SSA). */
    readonly issuerEqualsSoftwareId: boolean;
    /** Format of `iss`; null = any non-empty string. */
    readonly issuerPattern: PatternSpec | null;
    /** `aud` must be one of the configured audiences (`DCR_AUDIENCE`). */
    readonly audienceRequired: boolean;
    /** `aud` may be a JSON array (RFC 7519 §4.1.3); OBIE defines a single string. */
    readonly audienceArrayAllowed: boolean;
    /**
     * Format of `aud`. OBIE's data dictionary has `^[0-9a-zA-Z]{1,18}$` but membership in
     * `DCR_AUDIENCE` is stricter and `DCR_AUDIENCE` may be a URL, so it is null everywhere.
     */
    readonly audiencePattern: PatternSpec | null;
    readonly jtiPattern: PatternSpec | null;
    readonly jtiMaxLength: number;
    /** Format of the request `software_id` and of the SSA software id. */
    readonly softwareIdPattern: PatternSpec | null;
  };

  /** SPEC §2.4 (request JWT); SSA rules in `ssa.time`. */
  readonly time: {
    /** Default clock leeway (policy may override; clamped to ≤ 60 s). */
    readonly leewaySeconds: number;
    /** Default maximum `exp - iat` (≥ 3600 because conformance-dcr uses exactly 3600). */
    readonly maxLifetimeSeconds: number;
    /** `iat`/`nbf` up to this many seconds in the future is always accepted (FAPI2-SP: 10 s). */
    readonly futureIatAcceptSeconds: number;
    /**
     * `iat`/`nbf` this many seconds or more in the future is always rejected (FAPI2-SP: 60 s).
     * Between the two bounds the leeway decides.
     */
    readonly futureIatRejectSeconds: number;
  };

  /** SPEC §2.3 "Redirect URIs". */
  readonly redirectUris: {
    /**
     * When omitted: `reject` (OBIE policy, FAPI2), use every SSA redirect URI (`all-ssa-uris`: CDR,
     * OFB), or reject only when a redirect-based grant (`authorization_code`) is requested and else
     * register none (`reject-if-redirect-grant`: RFC 7591).
     */
    readonly whenOmitted: 'reject' | 'all-ssa-uris' | 'reject-if-redirect-grant';
    readonly maxLength: number;
    readonly maxCount: number;
    /** Each URI must be an exact member of the SSA list (when the SSA carries one). */
    readonly mustBeInSsa: boolean;
  };

  /** SPEC §2.2 `token_endpoint_auth_method`, §7.1. */
  readonly clientAuth: {
    readonly methods: readonly TokenEndpointAuthMethod[];
    /** Used when the claim is omitted; null = the claim is required. */
    readonly defaultMethod: TokenEndpointAuthMethod | null;
    /** Methods for which `token_endpoint_auth_signing_alg` is REQUIRED. */
    readonly signingAlgRequiredFor: readonly TokenEndpointAuthMethod[];
    /** RFC 8705 subject claims accepted with `tls_client_auth` (exactly one must be sent). */
    readonly tlsClientAuthClaims: readonly TlsClientAuthClaim[];
    /** Alternative request names stored under the standard name (3.1 `tls_client_auth_dn`). */
    readonly claimAliases: Readonly<Record<string, TlsClientAuthClaim>>;
    /** Maximum length of `tls_client_auth_subject_dn` (OBIE: 128). */
    readonly subjectDnMaxLength: number;
    /**
     * `tls_client_certificate_bound_access_tokens` is forced to true and returned (FAPI profiles);
     * false = the client value is kept (default false, RFC 8705 §3.4).
     */
    readonly forceCertificateBoundAccessTokens: boolean;
  };

  /** SPEC §2.2 grant/response/application types, §2.3 consistency. */
  readonly grants: {
    readonly grantTypes: readonly string[];
    /** Used when `grant_types` is omitted; null = the claim is required. */
    readonly defaultGrantTypes: readonly string[] | null;
    /** Allowed response types (space-separated values, compared as unordered sets). */
    readonly responseTypes: readonly string[];
    /**
     * Used when `response_types` is omitted and the grant types include `authorization_code`
     * (otherwise the default is the empty list, to stay consistent, RFC 7591 §2.1).
     */
    readonly defaultResponseTypes: readonly string[];
    readonly applicationTypes: readonly string[];
    /** Used when omitted; null = required. */
    readonly defaultApplicationType: string | null;
    /**
     * `implicit` in `grant_types` is accepted only together with this response type (Open Finance
     * Brasil: `code id_token`, OIDC Registration §2 pairs them); null = no such pairing rule (a
     * profile that lists no `implicit` grant refuses it anyway).
     */
    readonly implicitRequiresResponseType: string | null;
  };

  /** OBIE 3.3 CIBA metadata (SPEC §2.2). */
  readonly ciba: {
    readonly enabled: boolean;
    /** `push` is refused (FAPI-CIBA). */
    readonly deliveryModes: readonly string[];
    /** `backchannel_user_code_parameter_supported`, if present, must equal this. */
    readonly userCodeParameterSupported: boolean;
  };

  /** SPEC §2.3 "Scope". */
  readonly scope: {
    /** Format of the request `scope` claim: the first is canonical (used in responses). */
    readonly requestFormats: readonly ('string' | 'array')[];
    readonly source: ScopeSource;
    /** `openid` is always allowed in addition to the source's scopes. */
    readonly openidAlwaysAllowed: boolean;
    /** Scopes always allowed in addition (CDR `cdr:registration` is already in the SSA scope). */
    readonly alwaysAllowed: readonly string[];
    /**
     * When omitted: `reject` (required), `all-allowed` (every scope the source allows: OFB "omitted
     * ⇒ role set", CDR SSA scope), or a fixed default list.
     */
    readonly whenOmitted: 'reject' | 'all-allowed' | { readonly fixed: readonly string[] };
    /** Maximum length of the space-separated scope string (OBIE: 256). */
    readonly maxLength: number;
  };

  /** SSA (SPEC §3). */
  readonly ssa: {
    /** The registration request must carry a `software_statement` (false only in rfc7591). */
    readonly required: boolean;
    /** Default trusted SSA issuers (`DCR_SSA_ISSUER` default); policy overrides. */
    readonly defaultIssuers: readonly string[];
    readonly claims: SsaClaimNames;
    /** SPEC §3.4 step 5. */
    readonly requiredClaims: readonly string[];
    readonly time: SsaTimeRule;
  };

  /** Where the client's JWKS comes from (SPEC §8 `jwks_uri` row). */
  readonly jwks: {
    /**
     * The JWKS at the registered `jwks_uri` must hold a key with `"use": "enc"` (Open Finance Brasil
     * DCR 2023 revision §7.1 item 5); checked by fetching it (services/verifier/verify-request.ts).
     */
    readonly requireEncryptionKey: boolean;
    /**
     * `ssa`: the SSA JWKS URL is registered; a request `jwks_uri` is overridden (RFC 7591 §3.1.1).
     * `ssa-must-match`: a request `jwks_uri`, if sent, must equal the SSA one (OFB).
     * `request-or-ssa`: the request's `jwks_uri`/`jwks`, else the SSA URL (FAPI2).
     * `request`: only what the request registers (RFC 7591).
     */
    readonly source: 'ssa' | 'ssa-must-match' | 'request-or-ssa' | 'request';
    /** Request `jwks` (inline keys): rejected, ignored, or registered. */
    readonly inlineJwks: 'forbidden' | 'ignore' | 'allowed';
  };

  /** SPEC §7.3; any one rule passing binds. Empty = no binding check. */
  readonly certificateBinding: readonly CertificateBindingRule[];

  /** ID token encryption claims (CDR: required for the hybrid flow, unconfirmed conditionality). */
  readonly idTokenEncryption: {
    readonly requiredWithResponseType: string | null;
    readonly algs: readonly string[];
    readonly encs: readonly string[];
  };

  /**
   * JARM (CDR): `authorization_signed_response_alg` is required when this response type is
   * registered (CDR DCR: with `code`, the authorization response is a signed JWT); null = optional.
   */
  readonly authorizationResponseSigning: { readonly requiredWithResponseType: string | null };

  /**
   * Webhook registration (Open Finance Brasil DCR items 18–19): request `webhook_uris`, each of which
   * must be in this SSA claim (`software_api_webhook_uris`), else `400 invalid_webhook_uris`;
   * registered, returned and carried in `dcr.client.*` events. null = `webhook_uris` is not a
   * metadata member of the profile (ignored like any unknown claim).
   */
  readonly webhooks: { readonly ssaClaim: string } | null;

  /**
   * One client per software (SPEC §8): `one` makes the provisioner register the software's key,
   * which the store keeps unique among active clients (a second registration: 400
   * invalid_client_metadata naming the existing client; a deleted client frees it).
   */
  readonly registrationsPerSoftware: 'many' | 'one';

  /** SPEC §5.1. */
  readonly response: {
    /** SSA claims returned as top-level members: all (OBIE), a list (CDR), none. */
    readonly flattenSsaClaims: 'all' | 'none' | readonly string[];
    /** Never returned, from the SSA or the request (request-only JWT claims). */
    readonly omitClaims: readonly string[];
  };

  /** SPEC §1 rule 4, §6. */
  readonly management: {
    readonly tokenKinds: readonly ManagementTokenKind[];
    /** Scope the management access token must carry (CDR `cdr:registration`). */
    readonly requiredScope: string | null;
    /** The software_id/org_id of an existing client must not change on PUT (policy). */
    readonly immutableOnUpdate: readonly string[];
    /** RFC 7592 §2.2: `client_id` must be in the PUT body (OBIE: optional, must match if sent). */
    readonly clientIdRequiredOnUpdate: boolean;
    /**
     * RFC 7592 §2.2 registration access token rotation on update: `off` (default off, the deployment
     * may turn it on with DCR_ROTATE_REGISTRATION_TOKEN=1), `on` (default on), `forbidden` (the
     * profile says the token is never rotated: Open Finance Brasil DCR 2023 revision §6.1 item 7).
     */
    readonly tokenRotation: 'off' | 'on' | 'forbidden';
  };
}
