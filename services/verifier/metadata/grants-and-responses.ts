/**
 * SPEC §2.2 / §2.3 / §4 step 18: `grant_types`, `response_types` (RFC 7591 §2.1 consistency) and
 * `application_type`. Conformance DCR-011: `response_types` [`id_token`, `token`] → 400.
 */
import { reject } from '../../../core/domain/errors.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, list, show } from './util.js';

const RESPONSE_TYPE_ORDER = ['code', 'id_token', 'token'];

/** `id_token  code` → `code id_token`: response type values are unordered sets of words. */
export function normaliseResponseType(value: string): string {
  const words = [...new Set(value.trim().split(/\s+/).filter(Boolean))];
  return words
    .sort((a, b) => {
      const ia = RESPONSE_TYPE_ORDER.indexOf(a);
      const ib = RESPONSE_TYPE_ORDER.indexOf(b);
      if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
      return a < b ? -1 : a > b ? 1 : 0;
    })
    .join(' ');
}

function stringArray(ctx: RuleContext, name: string): string[] | undefined {
  const value = claim(ctx.claims, name);
  if (!isPresent(value)) return undefined;
  if (!Array.isArray(value)) throw reject.metadata(`${name}: must be an array of strings`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim().length === 0) throw reject.metadata(`${name}[${i}]: must be a non-empty string`);
  });
  return value as string[];
}

/** Step 18: grant types (omitted → the profile default, or rejected when required). */
export function checkGrantTypes(ctx: RuleContext): string[] {
  const { grants } = ctx.profile;
  const requested = stringArray(ctx, 'grant_types');
  if (requested === undefined) {
    if (!grants.defaultGrantTypes) throw reject.metadata("missing required claim 'grant_types'");
    return [...grants.defaultGrantTypes];
  }
  if (requested.length === 0) throw reject.metadata('grant_types: must contain at least one grant type');
  requested.forEach((grant, i) => {
    if (!grants.grantTypes.includes(grant)) {
      throw reject.metadata(`grant_types[${i}]: ${show(grant)} is not allowed (allowed: ${list(grants.grantTypes)})`);
    }
  });
  return [...new Set(requested)];
}

/** Step 18: response types, consistent with the grant types. */
export function checkResponseTypes(ctx: RuleContext, grantTypes: readonly string[]): string[] {
  const { grants } = ctx.profile;
  const allowed = grants.responseTypes.map(normaliseResponseType);
  const requested = stringArray(ctx, 'response_types');
  const hasCodeGrant = grantTypes.includes('authorization_code');

  if (requested === undefined) {
    // Default only when a redirect-based grant is registered (else it would contradict RFC 7591 §2.1).
    const defaults = hasCodeGrant ? grants.defaultResponseTypes.map(normaliseResponseType) : [];
    const paired = grants.implicitRequiresResponseType;
    if (paired !== null && grantTypes.includes('implicit') && !defaults.includes(normaliseResponseType(paired))) {
      throw reject.metadata(`grant_types: 'implicit' requires the response type '${paired}'`);
    }
    return defaults;
  }
  const result: string[] = [];
  requested.forEach((value, i) => {
    const normalised = normaliseResponseType(value);
    if (!allowed.includes(normalised)) {
      throw reject.metadata(`response_types[${i}]: ${show(value)} is not allowed (allowed: ${list(grants.responseTypes)})`);
    }
    if (!result.includes(normalised)) result.push(normalised);
  });

  const codeTypes = result.filter((type) => type.split(' ').includes('code'));
  if (codeTypes.length > 0 && !hasCodeGrant) {
    throw reject.metadata(`response_types: ${show(codeTypes[0])} requires the authorization_code grant type`);
  }
  if (result.some((type) => type.split(' ').includes('token')) && !grantTypes.includes('implicit')) {
    throw reject.metadata("response_types: 'token' requires the implicit grant type");
  }
  if (hasCodeGrant && codeTypes.length === 0) {
    throw reject.metadata("grant_types: 'authorization_code' requires a response type containing 'code'");
  }
  // Open Finance Brasil: `implicit` only with the hybrid response type (OIDC Registration §2).
  const paired = grants.implicitRequiresResponseType;
  if (paired !== null && grantTypes.includes('implicit') && !result.includes(normaliseResponseType(paired))) {
    throw reject.metadata(`grant_types: 'implicit' requires the response type '${paired}'`);
  }
  return result;
}

/** Step 18: application type (omitted → the profile default, or rejected when required). */
export function checkApplicationType(ctx: RuleContext): string {
  const { grants } = ctx.profile;
  const value = claim(ctx.claims, 'application_type');
  if (!isPresent(value)) {
    if (grants.defaultApplicationType === null) throw reject.metadata("missing required claim 'application_type'");
    return grants.defaultApplicationType;
  }
  if (typeof value !== 'string') throw reject.metadata('application_type: must be a string');
  if (!grants.applicationTypes.includes(value)) {
    throw reject.metadata(`application_type: ${show(value)} is not allowed (allowed: ${list(grants.applicationTypes)})`);
  }
  return value;
}
