/**
 * SPEC §4 step 13 (format part): `jti` is present with the profile's format. The replay cache
 * (same `jti`, different bytes) belongs to the JOSE stage, which has the shared store.
 */
import { reject } from '../../../core/domain/errors.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, matchesPattern, show } from './util.js';

export function checkJti(ctx: RuleContext): void {
  const jti = claim(ctx.claims, 'jti');
  if (!isPresent(jti)) return; // required-ness is step 7's business
  if (typeof jti !== 'string' || jti.length === 0) throw reject.metadata('jti: must be a non-empty string');
  const { jtiPattern, jtiMaxLength } = ctx.profile.identity;
  if (jti.length > jtiMaxLength) throw reject.metadata(`jti: longer than ${jtiMaxLength} characters`);
  if (jtiPattern && !matchesPattern(jtiPattern, jti)) {
    throw reject.metadata(`jti: ${show(jti)} is not ${jtiPattern.description}`);
  }
}
