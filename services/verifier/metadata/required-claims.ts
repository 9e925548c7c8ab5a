/**
 * SPEC §4 step 7: the payload is a JSON object and every claim the profile requires is present.
 * (Duplicate member names are refused by the JOSE stage, which sees the raw JSON.)
 */
import { reject } from '../../../core/domain/errors.js';
import type { RuleContext } from './types.js';
import { claim, isPlainObject, isPresent, list } from './util.js';

export function requiredClaimNames(ctx: Pick<RuleContext, 'profile' | 'envelope'>): string[] {
  const { claims } = ctx.profile;
  return [...claims.required, ...(ctx.envelope === 'jws' ? claims.requiredWhenSigned : [])];
}

export function checkRequestShape(ctx: RuleContext): void {
  if (!isPlainObject(ctx.claims)) throw reject.metadata('request payload: must be a JSON object');

  const missing = requiredClaimNames(ctx).filter((name) => !isPresent(claim(ctx.claims, name)));
  if (missing.length === 1) throw reject.metadata(`missing required claim '${missing[0]}'`);
  if (missing.length > 1) throw reject.metadata(`missing required claims: ${list(missing)}`);

  for (const name of ctx.profile.claims.forbidden) {
    if (isPresent(claim(ctx.claims, name))) {
      throw reject.metadata(`${name}: not allowed in the ${ctx.profile.name} profile`);
    }
  }

  const statement = claim(ctx.claims, 'software_statement');
  if (isPresent(statement) && (typeof statement !== 'string' || statement.split('.').length !== 3)) {
    throw reject.softwareStatement('software_statement: must be a compact JWS');
  }
}
