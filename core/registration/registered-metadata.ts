/**
 * The normalised client metadata the verifier hands to the provisioner: a typebox schema, its
 * static type, and a compiled checker. Every value here has passed the profile's rules; defaults
 * are filled in. The RFC 7591 §3.2.1 response is built from it (response.ts).
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

const HttpsUrl = (maxLength = 2048) => Type.String({ minLength: 9, maxLength, pattern: '^https://' });
const Alg = Type.String({ minLength: 1, maxLength: 16 });
const Jwk = Type.Record(Type.String(), Type.Unknown());

export const RegisteredMetadataSchema = Type.Object(
  {
    redirect_uris: Type.Array(HttpsUrl(2048), { maxItems: 50 }),
    token_endpoint_auth_method: Type.String({ minLength: 1, maxLength: 32 }),
    token_endpoint_auth_signing_alg: Type.Optional(Alg),
    grant_types: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    /** Space-separated values, e.g. `code id_token`; empty when no redirect-based grant is registered. */
    response_types: Type.Array(Type.String({ minLength: 1 })),
    application_type: Type.String({ minLength: 1 }),
    /** Space-separated scope string (canonical form; OBIE 3.1 responses turn it back into an array). */
    scope: Type.String({ maxLength: 4096 }),
    id_token_signed_response_alg: Alg,
    request_object_signing_alg: Alg,
    tls_client_auth_subject_dn: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    tls_client_auth_san_dns: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    tls_client_auth_san_uri: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    tls_client_auth_san_ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tls_client_auth_san_email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    tls_client_certificate_bound_access_tokens: Type.Boolean(),
    /** From the SSA (absent only in rfc7591 without an SSA). */
    software_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    org_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** Active roles of the software from the SSA (OBIE AISP/PISP/CBPII, OFB DADOS/…, CDR product role). */
    /** An array, or the SSA's string where the SSA issues one (CDR `software_roles`, returned as issued). */
    software_roles: Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.String({ minLength: 1, maxLength: 1024 })]),
    /** Open Finance Brasil: webhook base URIs, each one of the SSA's `software_api_webhook_uris`. */
    webhook_uris: Type.Optional(Type.Array(HttpsUrl(2048), { maxItems: 50 })),
    /** JWKS URL of the software (SSA `software_jwks_endpoint` / `jwks_uri` / `software_jwks_uri`, or registered). */
    jwks_uri: Type.Optional(HttpsUrl(2048)),
    jwks: Type.Optional(Type.Object({ keys: Type.Array(Jwk, { maxItems: 100 }) })),
    /** The SSA exactly as sent (RFC 7591 §3.2.1: returned unmodified). */
    software_statement: Type.Optional(Type.String({ minLength: 1 })),

    // CIBA (OBIE 3.3)
    backchannel_token_delivery_mode: Type.Optional(Type.String({ minLength: 1, maxLength: 8 })),
    backchannel_client_notification_endpoint: Type.Optional(HttpsUrl(256)),
    backchannel_authentication_request_signing_alg: Type.Optional(Alg),
    backchannel_user_code_parameter_supported: Type.Optional(Type.Boolean()),

    // RFC 7591 §2 / OIDC Registration metadata the profile lets through
    client_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    client_uri: Type.Optional(HttpsUrl()),
    logo_uri: Type.Optional(HttpsUrl()),
    tos_uri: Type.Optional(HttpsUrl()),
    policy_uri: Type.Optional(HttpsUrl()),
    contacts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { maxItems: 20 })),
    software_version: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    subject_type: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('pairwise')])),
    sector_identifier_uri: Type.Optional(HttpsUrl()),
    id_token_encrypted_response_alg: Type.Optional(Alg),
    id_token_encrypted_response_enc: Type.Optional(Alg),
    userinfo_signed_response_alg: Type.Optional(Alg),
    userinfo_encrypted_response_alg: Type.Optional(Alg),
    userinfo_encrypted_response_enc: Type.Optional(Alg),
    request_object_encryption_alg: Type.Optional(Alg),
    request_object_encryption_enc: Type.Optional(Alg),
    authorization_signed_response_alg: Type.Optional(Alg),
    authorization_encrypted_response_alg: Type.Optional(Alg),
    authorization_encrypted_response_enc: Type.Optional(Alg),
    default_max_age: Type.Optional(Type.Integer({ minimum: 0, maximum: 31_536_000 })),
    require_auth_time: Type.Optional(Type.Boolean()),
    require_pushed_authorization_requests: Type.Optional(Type.Boolean()),
    post_logout_redirect_uris: Type.Optional(Type.Array(HttpsUrl(), { maxItems: 50 })),
  },
  { additionalProperties: false },
);

export type RegisteredMetadata = Static<typeof RegisteredMetadataSchema>;

export const RegisteredMetadataValidator = Compile(RegisteredMetadataSchema);

/** Schemas of the single pass-through claims, used to validate each one with a precise message. */
export const PASS_THROUGH_SCHEMAS = RegisteredMetadataSchema.properties;

export type RegisteredMetadataKey = keyof RegisteredMetadata;
