/**
 * Australian Consumer Data Right (SPEC §3.3, §8 column `cdr`; CDR DCR APIs, CDR Register SSA).
 */
import { DEFAULT_TIME, JWS_CONTENT_TYPES, REQUEST_ONLY_CLAIMS, RFC7591_PASS_THROUGH } from './common.js';
import type { Profile } from './types.js';

/** Register SSA metadata returned with the registration (CDR ClientRegistration response model). */
const CDR_RESPONSE_SSA_CLAIMS = [
  'legal_entity_id',
  'legal_entity_name',
  'org_id',
  'org_name',
  'client_name',
  'client_description',
  'client_uri',
  'sector_identifier_uri',
  'logo_uri',
  'tos_uri',
  'policy_uri',
  'jwks_uri',
  'revocation_uri',
  'recipient_base_uri',
  'software_id',
  'software_roles',
] as const;

export const cdr: Profile = {
  name: 'cdr',
  title: 'Consumer Data Right (Australia) Dynamic Client Registration',
  sources: ['CDR DCR', 'CDR Register SSA', 'FAPI1-Adv'],

  body: {
    contentTypes: [...JWS_CONTENT_TYPES], // CDR uses application/jwt; jose accepted in every JWS profile
    envelopes: { 'application/jwt': 'jws', 'application/jose': 'jws' },
    defaultEnvelope: 'jws',
  },

  algorithms: {
    request: ['PS256', 'ES256'],
    ssa: ['PS256'], // the Register signs with PS256
    metadata: ['PS256', 'ES256'],
  },

  claims: {
    required: [
      'token_endpoint_auth_method',
      'token_endpoint_auth_signing_alg',
      'grant_types',
      'response_types',
      'id_token_signed_response_alg',
      // request_object_signing_alg is optional: absent ⇒ PS256 (algorithms.metadata[0]) is registered and returned.
      'software_statement',
    ],
    requiredWhenSigned: ['iss', 'iat', 'exp', 'aud', 'jti'],
    passThrough: [...RFC7591_PASS_THROUGH],
    forbidden: [],
    // SSA values win (RFC 7591 §3.1.1); the Register SSA uses the RFC 7591 names.
    ssaPrecedence: {
      client_name: 'client_name',
      client_uri: 'client_uri',
      logo_uri: 'logo_uri',
      tos_uri: 'tos_uri',
      policy_uri: 'policy_uri',
      sector_identifier_uri: 'sector_identifier_uri',
    },
  },

  identity: {
    issuerEqualsSoftwareId: true, // iss = the software product id
    issuerPattern: null,
    audienceRequired: true, // the Data Holder's issuer URL (exact form unconfirmed)
    audienceArrayAllowed: false,
    audiencePattern: null,
    jtiPattern: null,
    jtiMaxLength: 256,
    softwareIdPattern: null,
  },

  time: { ...DEFAULT_TIME },

  // CDR: redirect_uris optional; when omitted every SSA redirect URI is registered.
  redirectUris: { whenOmitted: 'all-ssa-uris', maxLength: 256, maxCount: 50, mustBeInSsa: true },

  clientAuth: {
    methods: ['private_key_jwt'], // private_key_jwt only
    defaultMethod: null,
    signingAlgRequiredFor: ['private_key_jwt'],
    tlsClientAuthClaims: [],
    claimAliases: {},
    subjectDnMaxLength: 256,
    forceCertificateBoundAccessTokens: true, // FAPI1-Adv (HoK tokens)
  },

  grants: {
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    defaultGrantTypes: null,
    // code id_token (hybrid) and, in newer versions, code (PAR + JARM) — version split unconfirmed.
    responseTypes: ['code id_token', 'code'],
    defaultResponseTypes: ['code id_token'],
    applicationTypes: ['web'],
    defaultApplicationType: 'web',
    implicitRequiresResponseType: null,
  },

  ciba: { enabled: false, deliveryModes: [], userCodeParameterSupported: false },

  scope: {
    requestFormats: ['string'],
    source: { kind: 'ssa-claim', claim: 'scope' }, // subset of the SSA scope (incl. cdr:registration)
    openidAlwaysAllowed: true,
    alwaysAllowed: [],
    whenOmitted: 'all-allowed', // the SSA scope
    maxLength: 4096,
  },

  ssa: {
    required: true,
    defaultIssuers: ['cdr-register'],
    claims: {
      softwareId: 'software_id',
      orgId: 'org_id',
      redirectUris: 'redirect_uris',
      jwksUri: 'jwks_uri',
      roles: { kind: 'space-string', claim: 'software_roles' }, // "data-recipient-software-product"
      orgStatus: null, // status comes from the Register API (revocation stage)
      competentAuthority: null,
      softwareMode: null,
    },
    requiredClaims: ['software_id', 'org_id', 'redirect_uris', 'jwks_uri', 'software_roles', 'scope'],
    time: { requireIat: true, requireExp: true, maxAgeSeconds: null }, // exp = iat + 600
  },

  jwks: { source: 'ssa', inlineJwks: 'ignore', requireEncryptionKey: false },

  certificateBinding: [], // client certificate from the CDR CA (details unconfirmed)

  // id_token_encrypted_response_alg/enc REQUIRED for the hybrid flow (conditionality unconfirmed).
  idTokenEncryption: {
    requiredWithResponseType: 'code id_token',
    algs: ['RSA-OAEP', 'RSA-OAEP-256'],
    encs: ['A256GCM', 'A128CBC-HS256'],
  },

  // CDR DCR: with response_type `code` the authorization response is a signed JWT (JARM).
  authorizationResponseSigning: { requiredWithResponseType: 'code' },

  webhooks: null,

  registrationsPerSoftware: 'one', // one client per software product (ERR-DCR-001)

  response: { flattenSsaClaims: [...CDR_RESPONSE_SSA_CLAIMS], omitClaims: [...REQUEST_ONLY_CLAIMS] },

  management: {
    tokenKinds: ['client_credentials_access_token'],
    requiredScope: 'cdr:registration',
    immutableOnUpdate: ['software_id', 'org_id'],
    clientIdRequiredOnUpdate: false,
    tokenRotation: 'off', // RFC 7592 §2.2 MAY; off unless DCR_ROTATE_REGISTRATION_TOKEN=1
  },
};
