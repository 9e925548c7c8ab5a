import { Type } from 'typebox';

/** `{client_id}` of `/register/{client_id}` (RFC 7592 §2; OBIE `ClientId` 1..36, ours are 22 chars). */
export const ClientIdParams = Type.Object(
  { client_id: Type.String({ minLength: 1, maxLength: 64, description: 'The client identifier issued at registration' }) },
  { additionalProperties: false },
);
export interface ClientIdParamsType {
  client_id: string;
}

/** The OpenAPI security requirement of the management endpoints (see `securitySchemes` in app.ts). */
export const MANAGEMENT_SECURITY = [{ registrationAccessToken: [], mutualTls: [] }];

/** RFC 7591 §3.2.1 / RFC 7592 §3 registration response (the profile's claims on top). */
export const RegistrationResponse = Type.Object(
  {
    client_id: Type.String(),
    client_id_issued_at: Type.Optional(Type.Integer()),
    registration_client_uri: Type.Optional(Type.String()),
    registration_access_token: Type.Optional(Type.String({ description: 'Only when it is issued (creation, or a rotating update)' })),
    redirect_uris: Type.Optional(Type.Array(Type.String())),
    token_endpoint_auth_method: Type.Optional(Type.String()),
    grant_types: Type.Optional(Type.Array(Type.String())),
    response_types: Type.Optional(Type.Array(Type.String())),
    scope: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    software_id: Type.Optional(Type.String()),
    software_statement: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'The registered client metadata (RFC 7591 §3.2.1 and the profile\'s claims)' },
);

/**
 * The request body of `POST /register` and `PUT /register/{client_id}`, for the OpenAPI document only
 * (app.ts adds it to routes that declare `consumes`): the routes check the body themselves
 * (`checkBodyShape`), so a missing or mistyped body gets the same 415/400 answer as before.
 */
export const RegistrationRequestBody = Type.String({
  description: 'The registration request: a compact JWS signed by the TPP (application/jwt, application/jose), or JSON in JSON profiles',
});
