/**
 * SPEC §2.4 time rules: request `exp`/`iat`/`nbf` (§4 step 12) and the shared future-`iat` rule
 * also applied to SSAs (§3.4 step 4).
 */
import { reject } from '../../../core/domain/errors.js';
import type { Profile } from '../../../core/profiles/index.js';
import type { MetadataPolicy, RuleContext } from './types.js';
import { claim, isInteger, isPresent } from './util.js';

/** Never more than 60 s (SPEC §2.4). */
export const MAX_LEEWAY_SECONDS = 60;

export function effectiveLeeway(profile: Profile, policy: MetadataPolicy): number {
  const leeway = policy.leewaySeconds ?? profile.time.leewaySeconds;
  return Math.min(MAX_LEEWAY_SECONDS, Math.max(0, Math.floor(leeway)));
}

export function effectiveMaxLifetime(profile: Profile, policy: MetadataPolicy): number {
  return policy.maxRequestLifetimeSeconds ?? profile.time.maxLifetimeSeconds;
}

/**
 * Why a timestamp that must not lie in the future is unacceptable, or null. FAPI2-SP clock skew:
 * up to `futureIatAcceptSeconds` (10 s) always accepted, `futureIatRejectSeconds` (60 s) or more
 * always rejected; in between the leeway decides.
 */
export function futureTimestampProblem(profile: Profile, value: number, now: number, leeway: number): string | null {
  const ahead = value - now;
  if (ahead <= profile.time.futureIatAcceptSeconds) return null;
  if (ahead >= profile.time.futureIatRejectSeconds || ahead > leeway) return `is ${ahead} s in the future`;
  return null;
}

function integerClaim(ctx: RuleContext, name: string): number | undefined {
  const value = claim(ctx.claims, name);
  if (!isPresent(value)) return undefined;
  if (!isInteger(value)) throw reject.metadata(`${name}: must be an integer number of seconds`);
  return value;
}

/** SPEC §4 step 12 (request JWT only). */
export function checkRequestTime(ctx: RuleContext): void {
  const { profile, now, leeway } = ctx;
  const iat = integerClaim(ctx, 'iat');
  const exp = integerClaim(ctx, 'exp');
  const nbf = integerClaim(ctx, 'nbf');
  const maxLifetime = effectiveMaxLifetime(profile, ctx.policy);

  if (iat !== undefined && exp !== undefined) {
    if (exp <= iat) throw reject.metadata(`exp: must be later than iat (exp - iat = ${exp - iat} s)`);
    if (exp - iat > maxLifetime) {
      throw reject.metadata(`exp: request lifetime exp - iat = ${exp - iat} s exceeds the maximum of ${maxLifetime} s`);
    }
  }
  if (exp !== undefined && now > exp + leeway) {
    throw reject.metadata(`exp: the request expired ${now - exp} s ago`);
  }
  if (iat !== undefined) {
    const future = futureTimestampProblem(profile, iat, now, leeway);
    if (future) throw reject.metadata(`iat: ${future}`);
    if (now - iat > maxLifetime + leeway) {
      throw reject.metadata(`iat: the request was issued ${now - iat} s ago, more than the maximum of ${maxLifetime} s`);
    }
  }
  if (nbf !== undefined) {
    const future = futureTimestampProblem(profile, nbf, now, leeway);
    if (future) throw reject.metadata(`nbf: ${future}`);
  }
}
