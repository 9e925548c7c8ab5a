import { randomUUID } from 'node:crypto';
import { certificateSubject, goSubjectString } from '../../platform/pki/dn.js';
import type { TestTpp } from './pipeline.js';

/** What conformance-dcr reads from discovery before building its request (SPEC §11.1). */
export interface ConformanceDiscovery {
  request_object_signing_alg_values_supported?: unknown;
  response_types_supported?: unknown;
}

/**
 * The claims conformance-dcr's `jwtSigner.Claims()` sends: one static SSA, `exp = iat + 1h`, a
 * lower-case uuid jti, the first advertised request object alg, only `code` / `code id_token`
 * response types (none when discovery lists neither), and for `tls_client_auth` the Go RDN string
 * of the transport certificate.
 */
export function conformanceDcrClaims(
  input: { tpp: TestTpp; ssa: string; audience: string; discovery: ConformanceDiscovery; method: 'tls_client_auth' | 'private_key_jwt' },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const { tpp, discovery, method } = input;
  const iat = Math.floor(Date.now() / 1000);
  const requestObjectAlgs = Array.isArray(discovery.request_object_signing_alg_values_supported) ? discovery.request_object_signing_alg_values_supported : [];
  const supported = Array.isArray(discovery.response_types_supported) ? discovery.response_types_supported : [];
  const responseTypes = supported.filter((t): t is string => t === 'code' || t === 'code id_token');
  return {
    aud: input.audience,
    exp: iat + 3600,
    jti: randomUUID(),
    iat,
    iss: tpp.credentials.softwareId,
    token_endpoint_auth_signing_alg: 'PS256',
    grant_types: ['authorization_code', 'client_credentials'],
    subject_type: 'public',
    application_type: 'web',
    redirect_uris: tpp.credentials.redirectUris,
    token_endpoint_auth_method: method,
    software_statement: input.ssa,
    scope: 'accounts openid',
    request_object_signing_alg: requestObjectAlgs[0],
    id_token_signed_response_alg: 'PS256',
    ...(responseTypes.length ? { response_types: responseTypes } : {}),
    ...(method === 'tls_client_auth' ? { tls_client_auth_subject_dn: goSubjectString(certificateSubject(tpp.identity.certPem)) } : {}),
    ...overrides,
  };
}
