/**
 * FAPI 2.0 Security Profile registration (SPEC §8 column `fapi2`, FAPI2-SP §5).
 * The directory is "configured": its SSAs use the OB Directory claim names here (policy; the
 * sandbox directory is OB-like), trusted issuers come from DCR_SSA_ISSUER.
 */
import {
  DEFAULT_TIME,
  ENCRYPTION_ALGS,
  ENCRYPTION_ENCS,
  JWS_CONTENT_TYPES,
  OBIE_ROLE_SCOPES,
  OBIE_SSA_CLAIMS,
  OBIE_SSA_REQUIRED,
  REQUEST_ONLY_CLAIMS,
  RFC7591_PASS_THROUGH,
} from './common.js';
import type { Profile } from './types.js';

export const fapi2: Profile = {
  name: 'fapi2',
  title: 'FAPI 2.0 Security Profile',
  sources: ['FAPI2-SP', 'RFC 7591', 'RFC 8705'],

  body: {
    contentTypes: [...JWS_CONTENT_TYPES], // JWS (policy)
    envelopes: { 'application/jwt': 'jws', 'application/jose': 'jws' },
    defaultEnvelope: 'jws',
  },

  algorithms: {
    request: ['PS256', 'ES256', 'EdDSA'], // EdDSA = Ed25519
    ssa: ['PS256', 'ES256', 'EdDSA'],
    metadata: ['PS256', 'ES256', 'EdDSA'],
  },

  claims: {
    required: ['redirect_uris', 'token_endpoint_auth_method', 'software_statement'],
    requiredWhenSigned: ['iss', 'iat', 'exp', 'aud', 'jti'],
    passThrough: [...RFC7591_PASS_THROUGH],
    forbidden: [],
    ssaPrecedence: {
      client_name: 'software_client_name',
      client_uri: 'software_client_uri',
      logo_uri: 'software_logo_uri',
      tos_uri: 'software_tos_uri',
      policy_uri: 'software_policy_uri',
    },
  },

  identity: {
    issuerEqualsSoftwareId: true,
    issuerPattern: null,
    audienceRequired: true, // the AS issuer (DCR_AUDIENCE)
    audienceArrayAllowed: true,
    audiencePattern: null,
    jtiPattern: null,
    jtiMaxLength: 256,
    softwareIdPattern: null,
  },

  time: { ...DEFAULT_TIME }, // FAPI2-SP clock skew: 10 s accepted, ≥ 60 s rejected

  redirectUris: { whenOmitted: 'reject', maxLength: 256, maxCount: 50, mustBeInSsa: true },

  clientAuth: {
    methods: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    defaultMethod: null,
    signingAlgRequiredFor: ['private_key_jwt', 'client_secret_jwt'],
    // RFC 8705 §2.1.2: exactly one of these with tls_client_auth.
    tlsClientAuthClaims: [
      'tls_client_auth_subject_dn',
      'tls_client_auth_san_dns',
      'tls_client_auth_san_uri',
      'tls_client_auth_san_ip',
      'tls_client_auth_san_email',
    ],
    claimAliases: {},
    subjectDnMaxLength: 256,
    forceCertificateBoundAccessTokens: true, // sender-constrained tokens
  },

  grants: {
    grantTypes: ['authorization_code', 'client_credentials', 'refresh_token'], // no implicit
    defaultGrantTypes: ['authorization_code'], // RFC 7591 §2 default
    responseTypes: ['code'], // code only
    defaultResponseTypes: ['code'],
    applicationTypes: ['web', 'native'],
    defaultApplicationType: 'web',
    implicitRequiresResponseType: null,
  },

  ciba: { enabled: false, deliveryModes: ['poll', 'ping'], userCodeParameterSupported: false },

  scope: {
    requestFormats: ['string'],
    source: { kind: 'roles', roleScopes: OBIE_ROLE_SCOPES },
    openidAlwaysAllowed: true,
    alwaysAllowed: [],
    whenOmitted: 'all-allowed', // RFC 7591 §2: the AS MAY register a default set (policy: the role set)
    maxLength: 1024,
  },

  ssa: {
    required: true,
    defaultIssuers: [], // configured (DCR_SSA_ISSUER)
    claims: OBIE_SSA_CLAIMS,
    requiredClaims: [...OBIE_SSA_REQUIRED],
    time: { requireIat: false, requireExp: false, maxAgeSeconds: null }, // `exp` honoured if present
  },

  // The client may register its own jwks_uri / jwks (self_signed_tls_client_auth needs them);
  // otherwise the SSA's software JWKS URL is registered.
  jwks: { source: 'request-or-ssa', inlineJwks: 'allowed', requireEncryptionKey: false },

  certificateBinding: [], // directory-specific; none by default

  idTokenEncryption: { requiredWithResponseType: null, algs: [...ENCRYPTION_ALGS], encs: [...ENCRYPTION_ENCS] },

  authorizationResponseSigning: { requiredWithResponseType: null },

  webhooks: null,

  registrationsPerSoftware: 'many',

  response: { flattenSsaClaims: 'none', omitClaims: [...REQUEST_ONLY_CLAIMS] },

  management: {
    tokenKinds: ['registration_access_token'],
    requiredScope: null,
    immutableOnUpdate: ['software_id', 'org_id'],
    clientIdRequiredOnUpdate: true, // RFC 7592 §2.2
    tokenRotation: 'off', // RFC 7592 §2.2 MAY; off unless DCR_ROTATE_REGISTRATION_TOKEN=1
  },
};
