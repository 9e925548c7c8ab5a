/**
 * SPEC §8 `jwks_uri` row / §4 step 18: where the client's keys come from.
 * OBIE/CDR: the SSA JWKS URL (a request value is overridden, RFC 7591 §3.1.1); OFB: a request
 * `jwks_uri` must equal the SSA `software_jwks_uri`, `jwks` forbidden; FAPI2: the request's own
 * `jwks_uri`/`jwks`, else the SSA URL; RFC 7591: the request's. `jwks` + `jwks_uri` together are
 * refused (RFC 7591 §2).
 */
import { reject } from '../../../core/domain/errors.js';
import type { SsaFacts } from './ssa-claims.js';
import type { RuleContext } from './types.js';
import { claim, httpsUrlProblem, isPlainObject, isPresent, optionalString, show } from './util.js';

export interface JwksMetadata {
  jwks_uri?: string;
  jwks?: { keys: Record<string, unknown>[] };
}

const MAX_KEYS = 100; // SPEC §10.1 (policy)
const NEEDS_KEYS = ['private_key_jwt', 'self_signed_tls_client_auth'];

function inlineJwks(ctx: RuleContext): JwksMetadata['jwks'] | undefined {
  const value = claim(ctx.claims, 'jwks');
  if (!isPresent(value)) return undefined;
  const policy = ctx.profile.jwks.inlineJwks;
  if (policy === 'forbidden') throw reject.metadata(`jwks: not allowed in the ${ctx.profile.name} profile`);
  if (policy === 'ignore') return undefined;
  if (!isPlainObject(value) || !Array.isArray(value.keys)) throw reject.metadata('jwks: must be a JWK Set object with "keys"');
  if (value.keys.length === 0 || value.keys.length > MAX_KEYS) {
    throw reject.metadata(`jwks: must hold 1 to ${MAX_KEYS} keys`);
  }
  value.keys.forEach((key, i) => {
    if (!isPlainObject(key) || typeof key.kty !== 'string') throw reject.metadata(`jwks.keys[${i}]: not a JWK`);
    if ('d' in key || 'p' in key || 'k' in key) throw reject.metadata(`jwks.keys[${i}]: must be a public key`);
  });
  return { keys: value.keys as Record<string, unknown>[] };
}

/** Step 18: returns the key source to register. */
export function checkJwks(ctx: RuleContext, facts: SsaFacts, authMethod: string): JwksMetadata {
  const { source } = ctx.profile.jwks;
  const requestUri = optionalString(ctx.claims, 'jwks_uri');
  if (requestUri !== undefined) {
    const problem = httpsUrlProblem(requestUri, { maxLength: 2048, noLoopback: true, noFragment: true });
    if (problem) throw reject.metadata(`jwks_uri: ${problem}`);
  }
  if (requestUri !== undefined && isPresent(claim(ctx.claims, 'jwks'))) {
    throw reject.metadata('jwks and jwks_uri: must not both be present (RFC 7591 section 2)');
  }
  const jwks = inlineJwks(ctx);

  let result: JwksMetadata;
  switch (source) {
    case 'ssa':
      result = facts.jwksUri !== undefined ? { jwks_uri: facts.jwksUri } : {};
      break;
    case 'ssa-must-match':
      if (requestUri !== undefined && requestUri !== facts.jwksUri) {
        throw reject.metadata(
          `jwks_uri: ${show(requestUri)} must equal the software statement ${ctx.profile.ssa.claims.jwksUri} ${show(facts.jwksUri)}`,
        );
      }
      result = facts.jwksUri !== undefined ? { jwks_uri: facts.jwksUri } : {};
      break;
    case 'request-or-ssa':
      if (requestUri !== undefined) result = { jwks_uri: requestUri };
      else if (jwks) result = { jwks };
      else result = facts.jwksUri !== undefined ? { jwks_uri: facts.jwksUri } : {};
      break;
    case 'request':
      result = requestUri !== undefined ? { jwks_uri: requestUri } : jwks ? { jwks } : {};
      break;
  }
  if (NEEDS_KEYS.includes(authMethod) && result.jwks_uri === undefined && result.jwks === undefined) {
    throw reject.metadata(`jwks_uri: required with token_endpoint_auth_method ${authMethod} (or jwks)`);
  }
  return result;
}
