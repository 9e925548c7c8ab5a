/**
 * What discovery (`/.well-known/openid-configuration`) advertises for a profile, derived from the
 * same table the verifier enforces (SPEC §11.1: conformance-dcr reads these values).
 */
import type { Profile } from './types.js';

export interface ProfileDiscoveryMetadata {
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  /** PS256 first where allowed: conformance-dcr registers with the first value. */
  request_object_signing_alg_values_supported: string[];
  id_token_signing_alg_values_supported: string[];
  response_types_supported: string[];
  grant_types_supported: string[];
  scopes_supported: string[];
  tls_client_certificate_bound_access_tokens: boolean;
  /** Not a registered metadata name: the media types `POST /register` accepts (informative). */
  registration_content_types_supported: string[];
  backchannel_token_delivery_modes_supported?: string[];
  backchannel_authentication_request_signing_alg_values_supported?: string[];
  backchannel_user_code_parameter_supported?: boolean;
}

function scopesSupported(profile: Profile): string[] {
  const scopes = new Set<string>();
  if (profile.scope.openidAlwaysAllowed) scopes.add('openid');
  if (profile.scope.source.kind === 'roles') {
    for (const list of Object.values(profile.scope.source.roleScopes)) for (const s of list) scopes.add(s);
  }
  for (const s of profile.scope.alwaysAllowed) scopes.add(s);
  return [...scopes];
}

export function discoveryMetadata(profile: Profile): ProfileDiscoveryMetadata {
  const algs = [...profile.algorithms.metadata];
  const result: ProfileDiscoveryMetadata = {
    token_endpoint_auth_methods_supported: [...profile.clientAuth.methods],
    token_endpoint_auth_signing_alg_values_supported: algs,
    request_object_signing_alg_values_supported: [...algs],
    id_token_signing_alg_values_supported: [...algs],
    response_types_supported: [...profile.grants.responseTypes],
    grant_types_supported: [...profile.grants.grantTypes],
    scopes_supported: scopesSupported(profile),
    tls_client_certificate_bound_access_tokens: profile.clientAuth.forceCertificateBoundAccessTokens,
    registration_content_types_supported: [...profile.body.contentTypes],
  };
  if (profile.ciba.enabled) {
    result.backchannel_token_delivery_modes_supported = [...profile.ciba.deliveryModes];
    result.backchannel_authentication_request_signing_alg_values_supported = [...algs];
    result.backchannel_user_code_parameter_supported = profile.ciba.userCodeParameterSupported;
  }
  return result;
}
