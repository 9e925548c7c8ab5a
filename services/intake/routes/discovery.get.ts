import type { FastifyInstance } from 'fastify';
import { discoveryMetadata, type Profile } from '../../../core/profiles/index.js';

export function discoveryDocument(profile: Profile, publicUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const registrationEndpoint = `${publicUrl}/register`;
  return {
    issuer: publicUrl,
    registration_endpoint: registrationEndpoint,
    mtls_endpoint_aliases: { registration_endpoint: registrationEndpoint },
    ...discoveryMetadata(profile),
    registration_request_signing_alg_values_supported: [...profile.algorithms.request],
    software_statement_signing_alg_values_supported: [...profile.algorithms.ssa],
    dcr_profile: profile.name,
    ...extra,
  };
}

/** `GET /.well-known/openid-configuration` (OBIE DCR 3.2 "Discovery"): derived from the profile table. */
export async function discoveryRoute(app: FastifyInstance, options: { profile: Profile; publicUrl: string; extra?: () => Record<string, unknown> }) {
  app.get('/.well-known/openid-configuration', {}, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(discoveryDocument(options.profile, options.publicUrl, options.extra?.() ?? {})),
  );
}
