/**
 * SPEC §2.2 "Other RFC 7591 §2 / OIDC Registration metadata … is optional", §3.4 step 8 (SSA values
 * take precedence) / §4 step 18 "length limits": the optional metadata the profile lets through,
 * each checked against its schema in registered-metadata.ts. Claims the profile does not list are
 * ignored (OBIE DCR 3.2: the ASPSP MAY ignore claims it cannot process).
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { reject } from '../../../core/domain/errors.js';
import { ENCRYPTION_CLAIM_PAIRS, SIGNING_ALG_CLAIMS } from './algorithms.js';
import { PASS_THROUGH_SCHEMAS } from '../../../core/registration/registered-metadata.js';
import type { RuleContext } from './types.js';
import { claim, isPresent } from './util.js';

/** Handled by algorithms.ts. */
const HANDLED_ELSEWHERE = new Set<string>([...SIGNING_ALG_CLAIMS, ...ENCRYPTION_CLAIM_PAIRS.flat()]);

const validators = new Map<string, ReturnType<typeof Compile>>();

function validatorFor(name: string): ReturnType<typeof Compile> | null {
  const schema = Object.hasOwn(PASS_THROUGH_SCHEMAS, name) ? (PASS_THROUGH_SCHEMAS as Record<string, TSchema | undefined>)[name] : undefined;
  if (!schema) return null;
  let validator = validators.get(name);
  if (!validator) {
    validator = Compile(schema);
    validators.set(name, validator);
  }
  return validator;
}

/** Why a value does not fit the claim's schema (typebox wording), or null. */
export function schemaProblem(name: string, value: unknown): string | null {
  const validator = validatorFor(name);
  if (!validator) return 'is not a supported metadata claim';
  if (validator.Check(value)) return null;
  const [first] = validator.Errors(value);
  if (!first) return 'is not valid';
  const where = first.instancePath ? `${first.instancePath} ` : '';
  return `${where}${first.message}`;
}

/** Step 18: the pass-through metadata to register. */
export function checkPassThrough(ctx: RuleContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of ctx.profile.claims.passThrough) {
    if (HANDLED_ELSEWHERE.has(name)) continue;
    const value = claim(ctx.claims, name);
    if (!isPresent(value)) continue;
    const problem = schemaProblem(name, value);
    if (problem) throw reject.metadata(`${name}: ${problem}`);
    out[name] = value;
  }
  // RFC 7591 §3.1.1: the SSA's value wins. An SSA value that does not fit the claim's schema is not
  // registered at all (display data must not block a registration, and the request value is not
  // trusted over the SSA).
  if (ctx.ssa) {
    for (const [name, ssaName] of Object.entries(ctx.profile.claims.ssaPrecedence)) {
      const value = claim(ctx.ssa, ssaName);
      if (!isPresent(value)) continue;
      if (schemaProblem(name, value) === null) out[name] = value;
      else delete out[name];
    }
  }
  return out;
}
