/**
 * Building blocks shared by several profile tables. Plain data only.
 */
import type { PatternSpec } from './types.js';

/** SPEC §1 rule 2: both media types are accepted in every JWS profile (parameters ignored). */
export const JWS_CONTENT_TYPES = ['application/jwt', 'application/jose'] as const;

/** OBIE 3.1 `iss` / `software_id`: Base62, ≤ 18 characters. */
export const BASE62_18: PatternSpec = { source: '^[0-9a-zA-Z]{1,18}$', description: 'Base62, 1 to 18 characters' };
/** OBIE 3.2+ `iss` / `software_id`: Base62, ≤ 22 characters. */
export const BASE62_22: PatternSpec = { source: '^[0-9a-zA-Z]{1,22}$', description: 'Base62, 1 to 22 characters' };
/**
 * OBIE `jti`: UUIDv4. The data dictionary regex is upper-case only, the swagger regex is
 * case-insensitive; conformance-dcr sends lower case, so case-insensitive (SPEC §2.2).
 */
export const UUID_V4: PatternSpec = {
  source: '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
  flags: 'i',
  description: 'a UUIDv4',
};

/** SPEC §2.4 defaults (policy): leeway 30 s, `exp - iat` ≤ 3600 s, future `iat` 10 s accepted / ≥ 60 s rejected. */
export const DEFAULT_TIME = {
  leewaySeconds: 30,
  maxLifetimeSeconds: 3600,
  futureIatAcceptSeconds: 10,
  futureIatRejectSeconds: 60,
} as const;

/**
 * OBIE role → scope mapping (SPEC §2.3; from WSO2 FS config and OB practice, not stated in the DCR
 * spec — unconfirmed). `openid` is allowed separately (`openidAlwaysAllowed`). `ASPSP` grants nothing.
 */
export const OBIE_ROLE_SCOPES: Readonly<Record<string, readonly string[]>> = {
  AISP: ['accounts'],
  PISP: ['payments'],
  CBPII: ['fundsconfirmations'],
};

/**
 * Open Finance Brasil role → scope mapping (SPEC §2.3, §8: the December 2023 revision's table).
 * DADOS gained the investment (`bank-fixed-incomes`, `credit-fixed-incomes`, `variable-incomes`,
 * `treasure-titles`, `funds`), exchange (`exchanges`) and credit-portability scopes; PAGTO gained
 * `recurring-payments` and `nrp-consents` (automatic and non-recurring-payment consents).
 * Scope names beyond SPEC's list are from the Open Finance Brasil API families, not re-read from
 * the revision itself (see docs/profiles/openfinance-br.md).
 */
export const OFB_ROLE_SCOPES: Readonly<Record<string, readonly string[]>> = {
  DADOS: [
    'openid',
    'accounts',
    'credit-cards-accounts',
    'consents',
    'customers',
    'invoice-financings',
    'financings',
    'loans',
    'unarranged-accounts-overdraft',
    'resources',
    'bank-fixed-incomes',
    'credit-fixed-incomes',
    'variable-incomes',
    'treasure-titles',
    'funds',
    'exchanges',
    'credit-portability',
  ],
  PAGTO: ['openid', 'payments', 'consents', 'resources', 'recurring-payments', 'nrp-consents'],
  CONTA: ['openid'],
  CCORR: ['openid'],
};

/** JWT claims that only describe the request/SSA itself and are never returned (SPEC §5.1). */
export const REQUEST_ONLY_CLAIMS = ['iss', 'iat', 'exp', 'aud', 'jti', 'nbf', 'sub'] as const;

/**
 * Optional RFC 7591 §2 / OIDC Dynamic Client Registration metadata kept when well-formed (their
 * types are in services/verifier/metadata/registered-metadata.ts). `subject_type` is sent by
 * conformance-dcr (`public`).
 */
export const RFC7591_PASS_THROUGH = [
  'client_name',
  'client_uri',
  'logo_uri',
  'tos_uri',
  'policy_uri',
  'contacts',
  'software_version',
  'subject_type',
  'sector_identifier_uri',
  'id_token_encrypted_response_alg',
  'id_token_encrypted_response_enc',
  'userinfo_signed_response_alg',
  'userinfo_encrypted_response_alg',
  'userinfo_encrypted_response_enc',
  'request_object_encryption_alg',
  'request_object_encryption_enc',
  'authorization_signed_response_alg',
  'authorization_encrypted_response_alg',
  'authorization_encrypted_response_enc',
  'default_max_age',
  'require_auth_time',
  'require_pushed_authorization_requests',
  'post_logout_redirect_uris',
] as const;

/** Key-management algorithms allowed for encryption metadata (RSA1_5 refused, FAPI). */
export const ENCRYPTION_ALGS = ['RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW'] as const;
export const ENCRYPTION_ENCS = ['A128GCM', 'A256GCM', 'A128CBC-HS256', 'A256CBC-HS512'] as const;

/** OBIE Directory SSA claim names (SPEC §3.2). */
export const OBIE_SSA_CLAIMS = {
  softwareId: 'software_id',
  orgId: 'org_id',
  redirectUris: 'software_redirect_uris',
  jwksUri: 'software_jwks_endpoint',
  roles: { kind: 'string-array', claim: 'software_roles' },
  orgStatus: 'org_status',
  competentAuthority: 'organisation_competent_authority_claims',
  softwareMode: 'software_mode',
} as const;

/** SPEC §3.4 step 5 for OB-style SSAs. */
export const OBIE_SSA_REQUIRED = [
  'software_id',
  'org_id',
  'software_roles',
  'software_redirect_uris',
  'software_jwks_endpoint',
] as const;
