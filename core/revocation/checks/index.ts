/**
 * The registered revocation checks, in report order: when several checks find positive evidence,
 * the first of this list is the one answered; retryable problems are reported in this order too.
 * `CHECK_ORDER` and the configuration enum (`DCR_REVOCATION_CHECKS`, `DCR_REVOCATION_SOFT_FAIL`,
 * platform/config/schema.ts) derive from it.
 *
 * Adding a check: one file in this folder exporting a `RevocationCheck` (core/revocation/check.ts),
 * and one line below.
 */
import type { RevocationCheck } from '../check.js';
import { chain } from './chain.js';
import { crl } from './crl.js';
import { ocsp } from './ocsp.js';
import { revokedJwks } from './revoked-jwks.js';
import { statusApi } from './status-api.js';

export const REVOCATION_CHECK_LIST = [
  statusApi,
  revokedJwks,
  chain,
  crl,
  ocsp,
] as const satisfies readonly RevocationCheck[];

export type RevocationCheckName = (typeof REVOCATION_CHECK_LIST)[number]['name'];

/** Every check name, in report order (the default of `DCR_REVOCATION_CHECKS`). */
export const CHECK_ORDER: readonly RevocationCheckName[] = REVOCATION_CHECK_LIST.map((c) => c.name);

/** The configuration enum: a non-empty tuple of the names. */
export const REVOCATION_CHECK_NAMES = CHECK_ORDER as readonly [RevocationCheckName, ...RevocationCheckName[]];

export { REVOKED_JWKS_CLAIMS } from './revoked-jwks.js';
