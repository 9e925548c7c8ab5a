/**
 * Plain RFC 7591 / RFC 7592 (SPEC §8 column `rfc7591`): JSON body (a signed request JWT is also
 * accepted, policy), optional SSA, the client registers its own keys.
 */
import {
  DEFAULT_TIME,
  ENCRYPTION_ALGS,
  ENCRYPTION_ENCS,
  OBIE_SSA_CLAIMS,
  REQUEST_ONLY_CLAIMS,
  RFC7591_PASS_THROUGH,
} from './common.js';
import type { Profile } from './types.js';

export const rfc7591: Profile = {
  name: 'rfc7591',
  title: 'OAuth 2.0 Dynamic Client Registration (RFC 7591 / RFC 7592)',
  sources: ['RFC 7591', 'RFC 7592', 'RFC 8705'],

  body: {
    contentTypes: ['application/json', 'application/jwt', 'application/jose'],
    envelopes: { 'application/json': 'json', 'application/jwt': 'jws', 'application/jose': 'jws' },
    defaultEnvelope: 'json',
  },

  algorithms: {
    // "configurable": the FAPI-safe set by default (HS*, RS*, none never).
    request: ['PS256', 'ES256', 'EdDSA'],
    ssa: ['PS256', 'ES256'],
    metadata: ['PS256', 'ES256', 'EdDSA'],
  },

  claims: {
    required: [],
    requiredWhenSigned: ['iat', 'exp'],
    passThrough: [...RFC7591_PASS_THROUGH],
    forbidden: [],
    ssaPrecedence: {},
  },

  identity: {
    issuerEqualsSoftwareId: false,
    issuerPattern: null,
    audienceRequired: false, // checked against DCR_AUDIENCE when present
    audienceArrayAllowed: true,
    audiencePattern: null,
    jtiPattern: null,
    jtiMaxLength: 256,
    softwareIdPattern: null,
  },

  time: { ...DEFAULT_TIME },

  redirectUris: { whenOmitted: 'reject-if-redirect-grant', maxLength: 2048, maxCount: 50, mustBeInSsa: true },

  clientAuth: {
    // "any registered"; client_secret_jwt is out because HS* algorithms are never allowed, `none`
    // because clients are confidential (policy).
    methods: [
      'client_secret_basic',
      'private_key_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
      'client_secret_post',
    ],
    defaultMethod: 'client_secret_basic', // RFC 7591 §2 default
    signingAlgRequiredFor: ['private_key_jwt', 'client_secret_jwt'],
    tlsClientAuthClaims: [
      'tls_client_auth_subject_dn',
      'tls_client_auth_san_dns',
      'tls_client_auth_san_uri',
      'tls_client_auth_san_ip',
      'tls_client_auth_san_email',
    ],
    claimAliases: {},
    subjectDnMaxLength: 1024,
    forceCertificateBoundAccessTokens: false, // RFC 8705 §3.4 default false, client value kept
  },

  grants: {
    grantTypes: [
      'authorization_code',
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    defaultGrantTypes: ['authorization_code'], // RFC 7591 §2
    responseTypes: ['code', 'code id_token'],
    defaultResponseTypes: ['code'], // RFC 7591 §2
    applicationTypes: ['web', 'native'],
    defaultApplicationType: 'web',
    implicitRequiresResponseType: null,
  },

  ciba: { enabled: false, deliveryModes: [], userCodeParameterSupported: false },

  scope: {
    requestFormats: ['string'],
    source: { kind: 'any' },
    openidAlwaysAllowed: true,
    alwaysAllowed: [],
    whenOmitted: { fixed: ['openid'] }, // RFC 7591 §2: the AS MAY register a default set
    maxLength: 2048,
  },

  ssa: {
    required: false, // optional SSA; when present it is verified and takes precedence
    defaultIssuers: [],
    claims: OBIE_SSA_CLAIMS,
    requiredClaims: ['software_id'],
    time: { requireIat: false, requireExp: false, maxAgeSeconds: null }, // exp/iat honoured if present
  },

  jwks: { source: 'request', inlineJwks: 'allowed', requireEncryptionKey: false },

  certificateBinding: [],

  idTokenEncryption: { requiredWithResponseType: null, algs: [...ENCRYPTION_ALGS], encs: [...ENCRYPTION_ENCS] },

  authorizationResponseSigning: { requiredWithResponseType: null },

  webhooks: null,

  registrationsPerSoftware: 'many',

  response: { flattenSsaClaims: 'none', omitClaims: [...REQUEST_ONLY_CLAIMS] },

  management: {
    tokenKinds: ['registration_access_token'],
    requiredScope: null,
    immutableOnUpdate: ['software_id'],
    clientIdRequiredOnUpdate: true,
    tokenRotation: 'off', // RFC 7592 §2.2 MAY; off unless DCR_ROTATE_REGISTRATION_TOKEN=1
  },
};
