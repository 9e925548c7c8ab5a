/**
 * UK Open Banking DCR v3.2 (SPEC §2, §3.2, §8 column `obie-3.2`). Also the base of 3.1 and 3.3.
 */
import {
  BASE62_22,
  DEFAULT_TIME,
  ENCRYPTION_ALGS,
  ENCRYPTION_ENCS,
  JWS_CONTENT_TYPES,
  OBIE_ROLE_SCOPES,
  OBIE_SSA_CLAIMS,
  OBIE_SSA_REQUIRED,
  REQUEST_ONLY_CLAIMS,
  RFC7591_PASS_THROUGH,
  UUID_V4,
} from './common.js';
import type { Profile } from './types.js';

export const obie32: Profile = {
  name: 'obie-3.2',
  title: 'UK Open Banking Dynamic Client Registration 3.2',
  sources: ['OBIE DCR 3.2', 'OBIE DCR swagger', 'OBIE Directory', 'conformance-dcr', 'FAPI1-Adv'],

  body: {
    // OBIE swagger: application/jwt; conformance-dcr sends application/jose.
    contentTypes: [...JWS_CONTENT_TYPES],
    envelopes: { 'application/jwt': 'jws', 'application/jose': 'jws' },
    defaultEnvelope: 'jws',
  },

  algorithms: {
    request: ['PS256', 'ES256'],
    ssa: ['PS256', 'ES256'],
    // PS256 first: conformance-dcr takes the first advertised request_object_signing_alg.
    metadata: ['PS256', 'ES256'],
  },

  claims: {
    required: [
      'redirect_uris', // 1..* in the data dictionary; OBIE text would default to all SSA URIs (policy: required)
      'token_endpoint_auth_method',
      'grant_types',
      'scope',
      'software_statement',
      'application_type',
      'id_token_signed_response_alg',
      'request_object_signing_alg',
    ],
    requiredWhenSigned: ['iss', 'iat', 'exp', 'aud', 'jti'],
    passThrough: [...RFC7591_PASS_THROUGH],
    forbidden: [],
    // RFC 7591 §3.1.1: SSA values win over the same metadata sent in the clear.
    ssaPrecedence: {
      client_name: 'software_client_name',
      client_uri: 'software_client_uri',
      logo_uri: 'software_logo_uri',
      tos_uri: 'software_tos_uri',
      policy_uri: 'software_policy_uri',
    },
  },

  identity: {
    issuerEqualsSoftwareId: true, // "For SSAs issued by the OB Directory, this must be the software_id"
    issuerPattern: BASE62_22,
    audienceRequired: true,
    audienceArrayAllowed: false, // data dictionary: a single string
    audiencePattern: null, // membership in DCR_AUDIENCE is stricter than ^[0-9a-zA-Z]{1,18}$
    jtiPattern: UUID_V4,
    jtiMaxLength: 36,
    softwareIdPattern: BASE62_22,
  },

  time: { ...DEFAULT_TIME },

  redirectUris: {
    whenOmitted: 'reject',
    maxLength: 256,
    maxCount: 50, // SPEC §10.1 (policy)
    mustBeInSsa: true,
  },

  clientAuth: {
    // Bank policy: the FAPI-compliant methods only (the OBIE enum also has client_secret_*).
    methods: ['tls_client_auth', 'private_key_jwt'],
    defaultMethod: null,
    signingAlgRequiredFor: ['private_key_jwt', 'client_secret_jwt'],
    tlsClientAuthClaims: ['tls_client_auth_subject_dn'],
    claimAliases: {},
    subjectDnMaxLength: 128,
    forceCertificateBoundAccessTokens: true, // FAPI1-Adv
  },

  grants: {
    grantTypes: ['authorization_code', 'client_credentials', 'refresh_token'],
    defaultGrantTypes: null,
    responseTypes: ['code', 'code id_token'],
    defaultResponseTypes: ['code id_token'], // data dictionary default
    applicationTypes: ['web', 'mobile'], // v3.4 draft renames mobile → native
    defaultApplicationType: null,
    implicitRequiresResponseType: null,
  },

  ciba: { enabled: false, deliveryModes: ['poll', 'ping'], userCodeParameterSupported: false },

  scope: {
    requestFormats: ['string'],
    source: { kind: 'roles', roleScopes: OBIE_ROLE_SCOPES },
    openidAlwaysAllowed: true,
    alwaysAllowed: [],
    whenOmitted: 'reject',
    maxLength: 256,
  },

  ssa: {
    required: true,
    defaultIssuers: ['OpenBanking Ltd'],
    claims: OBIE_SSA_CLAIMS,
    requiredClaims: [...OBIE_SSA_REQUIRED],
    // No `exp` in OB SSAs; the max age is the bank's (DCR_SSA_MAX_AGE_SECONDS). Off by default:
    // conformance-dcr reuses one static SSA for a whole run.
    time: { requireIat: true, requireExp: false, maxAgeSeconds: null },
  },

  jwks: { source: 'ssa', inlineJwks: 'ignore', requireEncryptionKey: false },

  certificateBinding: ['ob-legacy', 'obwac'],

  idTokenEncryption: { requiredWithResponseType: null, algs: [...ENCRYPTION_ALGS], encs: [...ENCRYPTION_ENCS] },

  authorizationResponseSigning: { requiredWithResponseType: null },

  webhooks: null,

  registrationsPerSoftware: 'many', // "ASPSPs can choose"; conformance-dcr registers several clients

  response: {
    flattenSsaClaims: 'all', // OBIE DCR 3.2 "Data Dictionary"; the client value wins on a clash
    omitClaims: [...REQUEST_ONLY_CLAIMS],
  },

  management: {
    // OBIE: a client-credentials token of the client (conformance-dcr); the RAT too (policy).
    tokenKinds: ['client_credentials_access_token', 'registration_access_token'],
    requiredScope: null,
    immutableOnUpdate: ['software_id', 'org_id'],
    clientIdRequiredOnUpdate: false, // 0..1 in OBIE; must match the path when sent
    tokenRotation: 'off', // RFC 7592 §2.2 MAY; off unless DCR_ROTATE_REGISTRATION_TOKEN=1
  },
};
