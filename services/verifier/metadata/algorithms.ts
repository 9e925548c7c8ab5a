/**
 * SPEC §2.3 "Algorithms" / §4 step 18: every `*_alg` metadata value is in the profile's allow-list
 * (PS256/ES256; EdDSA in fapi2); `none`, HS* and RS* are never in it (RS256: conformance DCR-004).
 * Encryption metadata: key-management/content algorithms from the profile list, `*_enc` needs its
 * `*_alg`; CDR requires ID token encryption for the hybrid flow.
 */
import { reject } from '../../../core/domain/errors.js';
import type { RuleContext } from './types.js';
import { list, optionalString, show } from './util.js';

/** Signing algorithm claims validated against `profile.algorithms.metadata`. */
export const SIGNING_ALG_CLAIMS = [
  'id_token_signed_response_alg',
  'request_object_signing_alg',
  'token_endpoint_auth_signing_alg',
  'backchannel_authentication_request_signing_alg',
  'userinfo_signed_response_alg',
  'authorization_signed_response_alg',
] as const;

/** Encryption (alg, enc) pairs. */
export const ENCRYPTION_CLAIM_PAIRS = [
  ['id_token_encrypted_response_alg', 'id_token_encrypted_response_enc'],
  ['userinfo_encrypted_response_alg', 'userinfo_encrypted_response_enc'],
  ['request_object_encryption_alg', 'request_object_encryption_enc'],
  ['authorization_encrypted_response_alg', 'authorization_encrypted_response_enc'],
] as const;

export type AlgorithmMetadata = {
  id_token_signed_response_alg: string;
  request_object_signing_alg: string;
} & Partial<Record<(typeof SIGNING_ALG_CLAIMS)[number] | (typeof ENCRYPTION_CLAIM_PAIRS)[number][number], string>>;

/** Step 18 (algorithms). Omitted optional signing algs default to the profile's first algorithm. */
export function checkAlgorithms(ctx: RuleContext): AlgorithmMetadata {
  const allowed = ctx.profile.algorithms.metadata as readonly string[];
  const found: Partial<Record<string, string>> = {};
  for (const name of SIGNING_ALG_CLAIMS) {
    const value = optionalString(ctx.claims, name);
    if (value === undefined) continue;
    if (!allowed.includes(value)) {
      throw reject.metadata(`${name}: ${show(value)} is not allowed (allowed: ${list(allowed)})`);
    }
    found[name] = value;
  }
  const { algs, encs } = ctx.profile.idTokenEncryption;
  for (const [algName, encName] of ENCRYPTION_CLAIM_PAIRS) {
    const alg = optionalString(ctx.claims, algName);
    const enc = optionalString(ctx.claims, encName);
    if (alg !== undefined && !algs.includes(alg)) {
      throw reject.metadata(`${algName}: ${show(alg)} is not allowed (allowed: ${list(algs)})`);
    }
    if (enc !== undefined) {
      if (alg === undefined) throw reject.metadata(`${encName}: requires ${algName}`);
      if (!encs.includes(enc)) throw reject.metadata(`${encName}: ${show(enc)} is not allowed (allowed: ${list(encs)})`);
    }
    if (alg !== undefined) found[algName] = alg;
    if (enc !== undefined) found[encName] = enc;
  }
  const fallback = allowed[0];
  if (fallback === undefined) throw new Error(`profile ${ctx.profile.name} allows no metadata algorithm`);
  return {
    ...found,
    id_token_signed_response_alg: found.id_token_signed_response_alg ?? fallback,
    request_object_signing_alg: found.request_object_signing_alg ?? fallback,
  };
}

/** CDR: ID token encryption is required with the hybrid flow (conditionality unconfirmed, SPEC §8). */
export function checkIdTokenEncryptionRequirement(
  ctx: RuleContext,
  responseTypes: readonly string[],
  algs: AlgorithmMetadata,
): void {
  const needed = ctx.profile.idTokenEncryption.requiredWithResponseType;
  if (needed === null || !responseTypes.includes(needed)) return;
  for (const name of ['id_token_encrypted_response_alg', 'id_token_encrypted_response_enc'] as const) {
    if (algs[name] === undefined) throw reject.metadata(`${name}: required with response type '${needed}'`);
  }
}

/**
 * CDR (JARM): `authorization_signed_response_alg` is required when the profile's response type is
 * registered (CDR DCR: `code` needs a signed authorization response). Its value was checked against
 * the allow-list by {@link checkAlgorithms}.
 */
export function checkAuthorizationSigningRequirement(ctx: RuleContext, responseTypes: readonly string[], algs: AlgorithmMetadata): void {
  const needed = ctx.profile.authorizationResponseSigning.requiredWithResponseType;
  if (needed === null || !responseTypes.includes(needed)) return;
  if (algs.authorization_signed_response_alg === undefined) {
    throw reject.metadata(`authorization_signed_response_alg: required with response type '${needed}' (signed authorization responses, JARM)`);
  }
}
