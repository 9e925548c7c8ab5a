/**
 * The profile tables (SPEC §8) by name. `DCR_PROFILE` selects one.
 */
import { cdr } from './cdr.js';
import { fapi2 } from './fapi2.js';
import { obie31 } from './obie-3.1.js';
import { obie32 } from './obie-3.2.js';
import { obie33 } from './obie-3.3.js';
import { openfinanceBr } from './openfinance-br.js';
import { rfc7591 } from './rfc7591.js';
import { PROFILE_NAMES, type Profile, type ProfileName } from './types.js';

export * from './types.js';
export { discoveryMetadata, type ProfileDiscoveryMetadata } from './discovery.js';
export { cdr, fapi2, obie31, obie32, obie33, openfinanceBr, rfc7591 };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The tables, deep-frozen: a profile is shared configuration data, never mutated at run time. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = deepFreeze({
  'obie-3.3': obie33,
  'obie-3.2': obie32,
  'obie-3.1': obie31,
  fapi2,
  cdr,
  'openfinance-br': openfinanceBr,
  rfc7591,
});

export function isProfileName(value: unknown): value is ProfileName {
  return typeof value === 'string' && (PROFILE_NAMES as readonly string[]).includes(value);
}

/** The profile table for a name; throws on an unknown name (config validation should catch it first). */
export function getProfile(name: ProfileName | string): Profile {
  if (!isProfileName(name)) {
    throw new Error(`unknown profile '${name}' (expected one of ${PROFILE_NAMES.join(', ')})`);
  }
  return PROFILES[name];
}

/** Media type without parameters, lower case (`application/jose; charset=utf-8` → `application/jose`). */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * The envelope a request body with this `Content-Type` has in the profile, or null when the profile
 * does not accept it (SPEC §4 step 4 → 415).
 */
export function envelopeForContentType(profile: Profile, contentType: string): 'jws' | 'json' | null {
  return profile.body.envelopes[mediaType(contentType)] ?? null;
}
