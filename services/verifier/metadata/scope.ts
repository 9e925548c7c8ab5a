/**
 * SPEC §2.3 "Scope" / §4 step 18: the requested scope is a subset of what the SSA allows —
 * OBIE/FAPI2: the roles' scopes (AISP → accounts, PISP → payments, CBPII → fundsconfirmations) plus
 * `openid`; OFB: the Active roles' scope sets, omitted ⇒ all of them; CDR: the SSA `scope`.
 * OBIE 3.1 sends an array; 3.2+ a space-separated string ≤ 256.
 */
import { reject } from '../../../core/domain/errors.js';
import { roleScopes, type SsaFacts } from './ssa-claims.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, list, show } from './util.js';

/** RFC 6749 §3.3 scope-token = 1*NQCHAR. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Every scope the SSA allows, in a stable order (`openid` first). Null = anything goes. */
export function allowedScopes(ctx: RuleContext, facts: SsaFacts): string[] | null {
  const { scope } = ctx.profile;
  const out: string[] = [];
  const add = (s: string) => {
    if (!out.includes(s)) out.push(s);
  };
  if (scope.openidAlwaysAllowed) add('openid');
  switch (scope.source.kind) {
    case 'any':
      return null;
    case 'roles':
      for (const role of facts.authorisedRoles) roleScopes(scope.source.roleScopes, role).forEach(add);
      break;
    case 'ssa-claim':
      (facts.scopes ?? []).forEach(add);
      break;
  }
  scope.alwaysAllowed.forEach(add);
  return out;
}

function requestedTokens(ctx: RuleContext, value: unknown): string[] {
  const formats = ctx.profile.scope.requestFormats;
  let tokens: string[];
  if (typeof value === 'string' && formats.includes('string')) {
    if (value.length > ctx.profile.scope.maxLength) {
      throw reject.metadata(`scope: longer than ${ctx.profile.scope.maxLength} characters`);
    }
    tokens = value.split(/\s+/).filter(Boolean);
  } else if (Array.isArray(value) && formats.includes('array')) {
    tokens = value.map((item, i) => {
      if (typeof item !== 'string' || item.trim() === '') throw reject.metadata(`scope[${i}]: must be a non-empty string`);
      return item.trim();
    });
    if (tokens.join(' ').length > ctx.profile.scope.maxLength) {
      throw reject.metadata(`scope: longer than ${ctx.profile.scope.maxLength} characters`);
    }
  } else {
    throw reject.metadata(
      formats[0] === 'array' ? 'scope: must be an array of strings' : 'scope: must be a space-separated string',
    );
  }
  if (tokens.length === 0) throw reject.metadata('scope: must not be empty');
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw reject.metadata(`scope: ${show(token)} is not a valid scope token`);
  }
  return [...new Set(tokens)];
}

/** Step 18: returns the space-separated scope to register. */
export function checkScope(ctx: RuleContext, facts: SsaFacts): string {
  const { scope } = ctx.profile;
  const allowed = allowedScopes(ctx, facts);
  const value = claim(ctx.claims, 'scope');

  if (!isPresent(value)) {
    if (scope.whenOmitted === 'reject') throw reject.metadata("missing required claim 'scope'");
    if (scope.whenOmitted === 'all-allowed') {
      if (!allowed) return 'openid';
      return allowed.join(' ');
    }
    return scope.whenOmitted.fixed.join(' ');
  }

  const tokens = requestedTokens(ctx, value);
  if (allowed) {
    const outside = tokens.find((token) => !allowed.includes(token));
    if (outside !== undefined) {
      const basis =
        scope.source.kind === 'ssa-claim'
          ? `the software statement ${scope.source.claim}`
          : `software roles ${list(facts.authorisedRoles)}`;
      throw reject.metadata(`scope: ${show(outside)} is not allowed for ${basis}`);
    }
  }
  return tokens.join(' ');
}
