/**
 * Open Finance Brasil DCR 1.0 ID3 (SPEC §3.3, §7.3, §8 column `openfinance-br`).
 * Plain JSON body (no request JWT), SSA signed PS256 by the OFB directory.
 */
import { DEFAULT_TIME, OFB_ROLE_SCOPES, REQUEST_ONLY_CLAIMS, RFC7591_PASS_THROUGH } from './common.js';
import type { Profile } from './types.js';

export const openfinanceBr: Profile = {
  name: 'openfinance-br',
  title: 'Open Finance Brasil Dynamic Client Registration',
  sources: ['OFB DCR', 'RFC 7591', 'RFC 8705', 'FAPI1-Adv'],

  body: {
    contentTypes: ['application/json'],
    envelopes: { 'application/json': 'json' },
    defaultEnvelope: 'json',
  },

  algorithms: {
    request: ['PS256'],
    ssa: ['PS256'], // PS256 only
    metadata: ['PS256'],
  },

  claims: {
    required: ['software_statement', 'token_endpoint_auth_method'],
    requiredWhenSigned: ['iat', 'exp'],
    passThrough: [...RFC7591_PASS_THROUGH],
    forbidden: ['jwks'], // OFB forbids inline keys
    // OFB item 10: SSA values prevail over the body.
    ssaPrecedence: {
      client_name: 'software_client_name',
      client_uri: 'software_client_uri',
      logo_uri: 'software_logo_uri',
      tos_uri: 'software_tos_uri',
      policy_uri: 'software_policy_uri',
    },
  },

  identity: {
    issuerEqualsSoftwareId: false, // n/a: JSON body
    issuerPattern: null,
    audienceRequired: false,
    audienceArrayAllowed: true,
    audiencePattern: null,
    jtiPattern: null,
    jtiMaxLength: 256,
    softwareIdPattern: null,
  },

  time: { ...DEFAULT_TIME },

  // redirect_uris is required (2023 revision; the Brasil swagger marks it required).
  redirectUris: { whenOmitted: 'reject', maxLength: 256, maxCount: 50, mustBeInSsa: true },

  clientAuth: {
    methods: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    defaultMethod: null,
    signingAlgRequiredFor: ['private_key_jwt', 'client_secret_jwt'],
    tlsClientAuthClaims: ['tls_client_auth_subject_dn'], // the DN only
    claimAliases: {},
    subjectDnMaxLength: 256,
    forceCertificateBoundAccessTokens: true,
  },

  grants: {
    // `implicit` is accepted with `code id_token` (OIDC Registration §2 pairs them; the OIDF
    // FAPI1AdvancedFinalBrazilDCR happy flow sends it); the AS issues no implicit-flow tokens (FAPI1-Adv).
    grantTypes: ['authorization_code', 'client_credentials', 'refresh_token', 'implicit'],
    defaultGrantTypes: ['authorization_code'], // RFC 7591 §2
    responseTypes: ['code id_token', 'code'],
    defaultResponseTypes: ['code'], // RFC 7591 §2 (policy; OFB does not say)
    applicationTypes: ['web'],
    defaultApplicationType: 'web',
    implicitRequiresResponseType: 'code id_token',
  },

  ciba: { enabled: false, deliveryModes: [], userCodeParameterSupported: false },

  scope: {
    requestFormats: ['string'],
    source: { kind: 'roles', roleScopes: OFB_ROLE_SCOPES },
    openidAlwaysAllowed: true,
    alwaysAllowed: [],
    whenOmitted: 'all-allowed', // omitted ⇒ the role-derived set
    maxLength: 2048,
  },

  ssa: {
    required: true,
    defaultIssuers: ['Open Banking Open Banking Brasil prod SSA issuer'],
    claims: {
      softwareId: 'software_id',
      orgId: 'org_id',
      redirectUris: 'software_redirect_uris',
      jwksUri: 'software_jwks_uri',
      roles: {
        kind: 'object-array',
        claim: 'software_statement_roles',
        roleField: 'role',
        statusField: 'status',
        activeStatus: 'Active', // only Active roles count
      },
      orgStatus: 'org_status',
      competentAuthority: null, // an array in OFB; role status is in software_statement_roles
      softwareMode: 'software_mode',
    },
    requiredClaims: [
      'software_id',
      'org_id',
      'software_redirect_uris',
      'software_jwks_uri',
      'software_statement_roles',
      'iat',
    ],
    time: { requireIat: true, requireExp: false, maxAgeSeconds: 300 }, // iat ≤ 5 min before receipt
  },

  // jwks_uri MUST equal software_jwks_uri; the JWKS MUST hold a `use: enc` key (2023 revision §7.1 item 5).
  jwks: { source: 'ssa-must-match', inlineJwks: 'forbidden', requireEncryptionKey: true },

  certificateBinding: ['ofb'],

  idTokenEncryption: {
    requiredWithResponseType: null,
    algs: ['RSA-OAEP', 'RSA-OAEP-256'],
    encs: ['A256GCM', 'A128CBC-HS256'],
  },

  authorizationResponseSigning: { requiredWithResponseType: null },

  // DCR items 18–19 (webhook registration): webhook_uris ⊆ SSA software_api_webhook_uris.
  webhooks: { ssaClaim: 'software_api_webhook_uris' },

  registrationsPerSoftware: 'one', // one client per software (SPEC §8, 2026-12-01 correction)

  response: { flattenSsaClaims: 'none', omitClaims: [...REQUEST_ONLY_CLAIMS] },

  management: {
    tokenKinds: ['registration_access_token'],
    requiredScope: null,
    immutableOnUpdate: ['software_id', 'org_id'],
    clientIdRequiredOnUpdate: true,
    tokenRotation: 'forbidden', // the registration access token is never rotated (2023 revision §6.1 item 7)
  },
};
