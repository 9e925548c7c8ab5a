/**
 * SPEC §5.1: the `201`/`200` body. Every registered metadata value (with server defaults), the
 * `software_statement` unmodified, SSA claims flattened per profile (OBIE: all of them; the
 * registered client value wins on a name clash, policy), request-only JWT claims (`iss`, `iat`,
 * `exp`, `aud`, `jti`, …) never returned, then the server-assigned members (RFC 7591 §3.2.1,
 * RFC 7592 §3).
 */
import type { Profile } from '../profiles/index.js';
import type { RegisteredMetadata } from './registered-metadata.js';

export interface ServerAssigned {
  client_id: string;
  client_id_issued_at: number;
  /** Sent only in the response that issues it. */
  registration_access_token?: string;
  registration_client_uri: string;
  /** Only when a secret is issued (never in FAPI profiles). */
  client_secret?: string;
  client_secret_expires_at?: number;
}

export function buildRegistrationResponse(
  profile: Profile,
  metadata: RegisteredMetadata,
  ssa: Readonly<Record<string, unknown>> | null,
  server: ServerAssigned,
): Record<string, unknown> {
  const omit = new Set<string>(profile.response.omitClaims);
  const body: Record<string, unknown> = {};

  const flatten = profile.response.flattenSsaClaims;
  if (ssa && flatten !== 'none') {
    const names = flatten === 'all' ? Object.keys(ssa) : flatten;
    for (const name of names) {
      if (omit.has(name) || name === 'software_statement') continue;
      const value = Object.prototype.hasOwnProperty.call(ssa, name) ? ssa[name] : undefined;
      if (value !== undefined) body[name] = value;
    }
  }

  for (const [name, value] of Object.entries(metadata)) {
    if (value === undefined || omit.has(name)) continue;
    body[name] = value;
  }
  // OBIE 3.1 models `scope` as an array of strings.
  if (profile.scope.requestFormats[0] === 'array' && typeof metadata.scope === 'string') {
    body.scope = metadata.scope.split(' ').filter(Boolean);
  }

  body.client_id = server.client_id;
  body.client_id_issued_at = server.client_id_issued_at;
  if (server.client_secret !== undefined) {
    body.client_secret = server.client_secret;
    body.client_secret_expires_at = server.client_secret_expires_at ?? 0;
  }
  if (server.registration_access_token !== undefined) body.registration_access_token = server.registration_access_token;
  body.registration_client_uri = server.registration_client_uri;
  return body;
}
