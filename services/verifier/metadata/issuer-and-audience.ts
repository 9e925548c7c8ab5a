/**
 * SPEC §4 steps 10–11 (request JWT `iss`, `aud`) and the `software_id` equality of step 18.
 */
import { ConfigurationError, reject } from '../../../core/domain/errors.js';
import type { SsaFacts } from './ssa-claims.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, matchesPattern, show } from './util.js';

/** Step 10: `iss` format per version, and `iss` = SSA software id (WSO2 IssuerValidator). */
export function checkIssuer(ctx: RuleContext, facts: SsaFacts): void {
  const { identity } = ctx.profile;
  const iss = claim(ctx.claims, 'iss');
  if (!isPresent(iss)) {
    if (identity.issuerEqualsSoftwareId) throw reject.metadata("missing required claim 'iss'");
    return;
  }
  if (typeof iss !== 'string') throw reject.metadata('iss: must be a string');
  if (iss.length === 0) throw reject.metadata('iss: must not be empty');
  if (identity.issuerPattern && !matchesPattern(identity.issuerPattern, iss)) {
    throw reject.metadata(`iss: ${show(iss)} is not ${identity.issuerPattern.description}`);
  }
  if (identity.issuerEqualsSoftwareId && facts.present && iss !== facts.softwareId) {
    throw reject.metadata(`iss: ${show(iss)} does not match the SSA software_id ${show(facts.softwareId)}`);
  }
}

/** Step 11: `aud` is one of `DCR_AUDIENCE`. */
export function checkAudience(ctx: RuleContext): void {
  const { identity } = ctx.profile;
  const aud = claim(ctx.claims, 'aud');
  if (!isPresent(aud)) {
    if (identity.audienceRequired) throw reject.metadata("missing required claim 'aud'");
    return;
  }
  let values: string[];
  if (typeof aud === 'string') values = [aud];
  else if (Array.isArray(aud) && identity.audienceArrayAllowed && aud.length > 0 && aud.every((v) => typeof v === 'string')) {
    values = aud as string[];
  } else {
    throw reject.metadata(identity.audienceArrayAllowed ? 'aud: must be a string or an array of strings' : 'aud: must be a string');
  }
  if (identity.audiencePattern) {
    const pattern = identity.audiencePattern;
    const bad = values.find((v) => !matchesPattern(pattern, v));
    if (bad !== undefined) throw reject.metadata(`aud: ${show(bad)} is not ${pattern.description}`);
  }
  if (ctx.policy.audiences.length === 0) {
    throw new ConfigurationError('DCR_AUDIENCE', 'no accepted audience is configured');
  }
  if (!values.some((v) => ctx.policy.audiences.includes(v))) {
    throw reject.metadata(`aud: ${show(aud)} is not an accepted audience of this server`);
  }
}

/** Step 18: a request `software_id`, if present, equals the SSA's (and has the version's format). */
export function checkSoftwareId(ctx: RuleContext, facts: SsaFacts): string | undefined {
  const value = claim(ctx.claims, 'software_id');
  if (!isPresent(value)) return facts.softwareId;
  if (typeof value !== 'string' || value.length === 0) throw reject.metadata('software_id: must be a non-empty string');
  const pattern = ctx.profile.identity.softwareIdPattern;
  if (pattern && !matchesPattern(pattern, value)) {
    throw reject.metadata(`software_id: ${show(value)} is not ${pattern.description}`);
  }
  if (facts.present && facts.softwareId !== undefined && value !== facts.softwareId) {
    throw reject.metadata(`software_id: ${show(value)} does not match the SSA software_id ${show(facts.softwareId)}`);
  }
  return facts.softwareId ?? value;
}
