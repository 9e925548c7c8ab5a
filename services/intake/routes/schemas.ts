import { Type } from 'typebox';

export const ErrorBody = Type.Object(
  { error: Type.String(), error_description: Type.String() },
  { $id: 'ErrorBody', description: 'RFC 7591 §3.2.2 error response' },
);

export const RegistrationAccepted = Type.Object(
  { request_id: Type.String({ format: 'uuid' }), status: Type.String() },
  { description: 'Accepted; poll the Location for the outcome' },
);

export const RequestStatus = Type.Object(
  {
    request_id: Type.String(),
    status: Type.String(),
    submitted_at: Type.String(),
    updated_at: Type.String(),
    client_id: Type.Optional(Type.String()),
    registration: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    error: Type.Optional(Type.String()),
    error_description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
