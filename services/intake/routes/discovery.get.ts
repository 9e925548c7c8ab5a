import type { FastifyInstance } from 'fastify';
import type { Profile } from '../../../shared/profiles/types.js';

/** Scopes a profile can grant, for discovery. */
export function scopesOf(profile: Profile): string[] {
  const scopes = new Set<string>();
  if (profile.scope.openidAlwaysAllowed) scopes.add('openid');
  for (const s of profile.scope.alwaysAllowed) scopes.add(s);
  if (profile.scope.source.kind === 'roles') for (const list of Object.values(profile.scope.source.roleScopes)) for (const s of list) scopes.add(s);
  return [...scopes];
}

export function discoveryDocument(profile: Profile, publicUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const registrationEndpoint = `${publicUrl}/register`;
  const algs = [...profile.algorithms.metadata];
  return {
    issuer: publicUrl,
    registration_endpoint: registrationEndpoint,
    mtls_endpoint_aliases: { registration_endpoint: registrationEndpoint },
    token_endpoint_auth_methods_supported: [...profile.clientAuth.methods],
    token_endpoint_auth_signing_alg_values_supported: algs,
    // conformance-dcr uses the first value as request_object_signing_alg (SPEC §11.1): PS256 first.
    request_object_signing_alg_values_supported: algs,
    id_token_signing_alg_values_supported: algs,
    registration_request_signing_alg_values_supported: [...profile.algorithms.request],
    software_statement_signing_alg_values_supported: [...profile.algorithms.ssa],
    grant_types_supported: [...profile.grants.grantTypes],
    response_types_supported: [...profile.grants.responseTypes],
    scopes_supported: scopesOf(profile),
    tls_client_certificate_bound_access_tokens: true,
    registration_content_types_supported: [...profile.body.contentTypes],
    dcr_profile: profile.name,
    ...extra,
  };
}

/** `GET /.well-known/openid-configuration` (OBIE DCR 3.2 "Discovery"). */
export async function discoveryRoute(app: FastifyInstance, options: { profile: Profile; publicUrl: string; extra?: () => Record<string, unknown> }) {
  app.get('/.well-known/openid-configuration', {}, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(discoveryDocument(options.profile, options.publicUrl, options.extra?.() ?? {})),
  );
}
