/**
 * SPEC §2.2 `token_endpoint_auth_method` and its conditional claims, §7.1 (RFC 8705) / §4 step 16:
 * the method is allowed by the profile, `token_endpoint_auth_signing_alg` is present when the
 * method needs it, and `tls_client_auth` comes with exactly one subject claim (3.1's
 * `tls_client_auth_dn` is stored as `tls_client_auth_subject_dn`).
 */
import { isIP } from 'node:net';
import { reject } from '../../../core/domain/errors.js';
import { tryParseDn } from '../../../platform/pki/dn.js';
import type { TlsClientAuthClaim, TokenEndpointAuthMethod } from '../../../core/profiles/index.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, list, show } from './util.js';

export const RFC8705_SUBJECT_CLAIMS: readonly TlsClientAuthClaim[] = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
];

export interface ClientAuthMetadata extends Partial<Record<TlsClientAuthClaim, string>> {
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** Presence checked here; its value is checked with the other algorithms (algorithms.ts). */
  token_endpoint_auth_signing_alg?: string;
  tls_client_certificate_bound_access_tokens: boolean;
}

function subjectValueProblem(ctx: RuleContext, name: TlsClientAuthClaim, value: string): string | null {
  switch (name) {
    case 'tls_client_auth_subject_dn': {
      if (value.length > ctx.profile.clientAuth.subjectDnMaxLength) {
        return `longer than ${ctx.profile.clientAuth.subjectDnMaxLength} characters`;
      }
      const parsed = tryParseDn(value);
      return parsed && parsed.length > 0 ? null : `${show(value)} is not a valid RFC 4514 distinguished name`;
    }
    case 'tls_client_auth_san_dns':
      return /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(value)
        ? null
        : `${show(value)} is not a DNS name`;
    case 'tls_client_auth_san_uri':
      return URL.canParse(value) ? null : `${show(value)} is not an absolute URI`;
    case 'tls_client_auth_san_ip':
      return isIP(value) ? null : `${show(value)} is not an IPv4 dotted-decimal or IPv6 address`;
    case 'tls_client_auth_san_email':
      return /^[^\s@]+@[^\s@]+$/.test(value) ? null : `${show(value)} is not an email address`;
  }
}

/** Collects the RFC 8705 subject claims (with aliases resolved). */
function subjectClaims(ctx: RuleContext): Map<TlsClientAuthClaim, string> {
  const found = new Map<TlsClientAuthClaim, string>();
  const read = (name: string, target: TlsClientAuthClaim) => {
    const value = claim(ctx.claims, name);
    if (!isPresent(value)) return;
    if (typeof value !== 'string' || value.length === 0) throw reject.metadata(`${name}: must be a non-empty string`);
    const earlier = found.get(target);
    if (earlier !== undefined && earlier !== value) {
      throw reject.metadata(`${name}: differs from ${target}; send one of them`);
    }
    found.set(target, value);
  };
  for (const name of RFC8705_SUBJECT_CLAIMS) read(name, name);
  for (const [alias, target] of Object.entries(ctx.profile.clientAuth.claimAliases)) read(alias, target);
  return found;
}

/** Step 16. */
export function checkClientAuthentication(ctx: RuleContext): ClientAuthMetadata {
  const { clientAuth } = ctx.profile;
  const raw = claim(ctx.claims, 'token_endpoint_auth_method');
  let method: string;
  if (!isPresent(raw)) {
    if (!clientAuth.defaultMethod) throw reject.metadata("missing required claim 'token_endpoint_auth_method'");
    method = clientAuth.defaultMethod;
  } else if (typeof raw !== 'string' || raw.length === 0) {
    throw reject.metadata('token_endpoint_auth_method: must be a non-empty string');
  } else {
    method = raw;
  }
  if (!(clientAuth.methods as readonly string[]).includes(method)) {
    throw reject.metadata(
      `token_endpoint_auth_method: ${show(method)} is not allowed (allowed: ${list(clientAuth.methods)})`,
    );
  }
  const result: ClientAuthMetadata = {
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    tls_client_certificate_bound_access_tokens: false,
  };

  const signingAlg = claim(ctx.claims, 'token_endpoint_auth_signing_alg');
  if (isPresent(signingAlg)) {
    if (typeof signingAlg !== 'string' || signingAlg.length === 0) {
      throw reject.metadata('token_endpoint_auth_signing_alg: must be a non-empty string');
    }
    result.token_endpoint_auth_signing_alg = signingAlg;
  } else if ((clientAuth.signingAlgRequiredFor as readonly string[]).includes(method)) {
    throw reject.metadata(`token_endpoint_auth_signing_alg: required with token_endpoint_auth_method ${method}`);
  }

  if (method === 'tls_client_auth') {
    const found = subjectClaims(ctx);
    const allowed = clientAuth.tlsClientAuthClaims;
    for (const name of found.keys()) {
      if (!allowed.includes(name)) {
        throw reject.metadata(`${name}: not supported in the ${ctx.profile.name} profile (use ${list(allowed)})`);
      }
    }
    if (found.size === 0) {
      throw reject.metadata(
        `tls_client_auth requires ${allowed.length === 1 ? allowed[0] : `exactly one of ${list(allowed)}`}`,
      );
    }
    if (found.size > 1) {
      throw reject.metadata(`tls_client_auth: exactly one of ${list([...found.keys()])} may be registered`);
    }
    const [name, value] = [...found.entries()][0]!;
    const problem = subjectValueProblem(ctx, name, value);
    if (problem) throw reject.metadata(`${name}: ${problem}`);
    result[name] = value;
  }

  const bound = claim(ctx.claims, 'tls_client_certificate_bound_access_tokens');
  if (isPresent(bound) && typeof bound !== 'boolean') {
    throw reject.metadata('tls_client_certificate_bound_access_tokens: must be a boolean');
  }
  if (clientAuth.forceCertificateBoundAccessTokens) {
    result.tls_client_certificate_bound_access_tokens = true;
  } else {
    result.tls_client_certificate_bound_access_tokens = bound === true;
  }
  return result;
}
