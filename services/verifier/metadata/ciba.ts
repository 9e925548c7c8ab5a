/**
 * OBIE 3.3 CIBA metadata (SPEC §2.2) / §4 step 16: conditional on the CIBA grant.
 * - `backchannel_token_delivery_mode` REQUIRED with the grant; `poll` or `ping` (`push` refused, FAPI-CIBA);
 * - `backchannel_client_notification_endpoint` REQUIRED when the mode is not `poll`; https, ≤ 256;
 * - `backchannel_authentication_request_signing_alg` REQUIRED with the grant (value: algorithms.ts);
 * - `backchannel_user_code_parameter_supported` optional, must be `false`.
 * Without the grant none of them may be sent (policy).
 */
import { reject } from '../../../core/domain/errors.js';
import { CIBA_GRANT_TYPE } from '../../../core/profiles/index.js';
import type { RuleContext } from './types.js';
import { claim, httpsUrlProblem, isPresent, list, optionalString, show } from './util.js';

export const CIBA_CLAIMS = [
  'backchannel_token_delivery_mode',
  'backchannel_client_notification_endpoint',
  'backchannel_authentication_request_signing_alg',
  'backchannel_user_code_parameter_supported',
] as const;

export interface CibaMetadata {
  backchannel_token_delivery_mode?: string;
  backchannel_client_notification_endpoint?: string;
  backchannel_authentication_request_signing_alg?: string;
  backchannel_user_code_parameter_supported?: boolean;
}

export function requestsCibaGrant(ctx: RuleContext): boolean {
  const grants = claim(ctx.claims, 'grant_types');
  return Array.isArray(grants) && grants.includes(CIBA_GRANT_TYPE);
}

/** Step 16. */
export function checkCiba(ctx: RuleContext): CibaMetadata {
  if (!requestsCibaGrant(ctx)) {
    const stray = CIBA_CLAIMS.find((name) => isPresent(claim(ctx.claims, name)));
    if (stray) throw reject.metadata(`${stray}: only allowed together with the ${CIBA_GRANT_TYPE} grant`);
    return {};
  }
  // A profile without CIBA refuses the grant itself in step 18 (grant_types).
  if (!ctx.profile.ciba.enabled) return {};

  const { deliveryModes, userCodeParameterSupported } = ctx.profile.ciba;
  const result: CibaMetadata = {};

  const mode = optionalString(ctx.claims, 'backchannel_token_delivery_mode');
  if (mode === undefined) throw reject.metadata(`backchannel_token_delivery_mode: required with the ${CIBA_GRANT_TYPE} grant`);
  if (!deliveryModes.includes(mode)) {
    throw reject.metadata(`backchannel_token_delivery_mode: ${show(mode)} is not allowed (allowed: ${list(deliveryModes)})`);
  }
  result.backchannel_token_delivery_mode = mode;

  const endpoint = optionalString(ctx.claims, 'backchannel_client_notification_endpoint');
  if (endpoint === undefined && mode !== 'poll') {
    throw reject.metadata(`backchannel_client_notification_endpoint: required with delivery mode ${mode}`);
  }
  if (endpoint !== undefined) {
    const problem = httpsUrlProblem(endpoint, { maxLength: 256, noLoopback: true, noFragment: true });
    if (problem) throw reject.metadata(`backchannel_client_notification_endpoint: ${problem}`);
    result.backchannel_client_notification_endpoint = endpoint;
  }

  const alg = optionalString(ctx.claims, 'backchannel_authentication_request_signing_alg');
  if (alg === undefined) {
    throw reject.metadata(`backchannel_authentication_request_signing_alg: required with the ${CIBA_GRANT_TYPE} grant`);
  }
  result.backchannel_authentication_request_signing_alg = alg;

  const userCode = claim(ctx.claims, 'backchannel_user_code_parameter_supported');
  if (isPresent(userCode)) {
    if (typeof userCode !== 'boolean') throw reject.metadata('backchannel_user_code_parameter_supported: must be a boolean');
    if (userCode !== userCodeParameterSupported) {
      throw reject.metadata(`backchannel_user_code_parameter_supported: must be ${userCodeParameterSupported}`);
    }
    result.backchannel_user_code_parameter_supported = userCode;
  }
  return result;
}
