/**
 * SPEC §2.3 "Redirect URIs" / §4 step 15 → `invalid_redirect_uri`.
 * Each URI: absolute https, no localhost/loopback host, no fragment, no user info, ≤ 256 chars,
 * an exact string member of the SSA list. Conformance-dcr `isOBURl`; WSO2 RedirectUriFormat/Match.
 */
import { reject } from '../../../core/domain/errors.js';
import type { SsaFacts } from './ssa-claims.js';
import type { RuleContext } from './types.js';
import { claim, httpsUrlProblem, isPresent } from './util.js';

const fail = reject.redirectUri;

function requestsRedirectGrant(ctx: RuleContext): boolean {
  const grants = claim(ctx.claims, 'grant_types');
  const effective = Array.isArray(grants) ? grants : (ctx.profile.grants.defaultGrantTypes ?? []);
  return effective.includes('authorization_code') || effective.includes('implicit');
}

function checkFormat(ctx: RuleContext, uri: unknown, label: string): string {
  if (typeof uri !== 'string' || uri.length === 0) throw fail(`${label}: must be a non-empty string`);
  const problem = httpsUrlProblem(uri, {
    maxLength: ctx.profile.redirectUris.maxLength,
    noLoopback: true,
    noFragment: true,
  });
  if (problem) throw fail(`${label}: ${problem}`);
  return uri;
}

/** Step 15: returns the redirect URIs to register. */
export function checkRedirectUris(ctx: RuleContext, facts: SsaFacts): string[] {
  const rules = ctx.profile.redirectUris;
  const value = claim(ctx.claims, 'redirect_uris');
  const omitted = !isPresent(value) || (Array.isArray(value) && value.length === 0 && rules.whenOmitted !== 'reject');

  if (omitted) {
    switch (rules.whenOmitted) {
      case 'reject':
        throw fail('redirect_uris: required');
      case 'reject-if-redirect-grant':
        if (requestsRedirectGrant(ctx)) throw fail('redirect_uris: required for the authorization_code grant');
        return [];
      case 'all-ssa-uris': {
        const fromSsa = facts.redirectUris ?? [];
        if (fromSsa.length === 0) throw fail('redirect_uris: omitted and the SSA lists no redirect URIs');
        const claimName = ctx.profile.ssa.claims.redirectUris;
        return fromSsa.map((uri, i) => checkFormat(ctx, uri, `SSA ${claimName}[${i}]`));
      }
    }
  }

  if (!Array.isArray(value)) throw fail('redirect_uris: must be an array of URIs');
  if (value.length === 0) throw fail('redirect_uris: must contain at least one URI');
  if (value.length > rules.maxCount) throw fail(`redirect_uris: more than ${rules.maxCount} URIs`);

  const seen = new Set<string>();
  const ssaList = rules.mustBeInSsa && facts.present ? facts.redirectUris : undefined;
  return value.map((item, i) => {
    const label = `redirect_uris[${i}]`;
    const uri = checkFormat(ctx, item, label);
    if (seen.has(uri)) throw fail(`${label}: duplicate of an earlier redirect URI`);
    seen.add(uri);
    if (ssaList && !ssaList.includes(uri)) {
      throw fail(`${label}: not one of the software statement's ${ctx.profile.ssa.claims.redirectUris}`);
    }
    return uri;
  });
}
