/**
 * The peer: node-oidc-provider 8 (panva) with dynamic registration (RFC 7591) and registration
 * management (RFC 7592) enabled, its default in-memory adapter, served by a node:https server with
 * the intake's TLS settings wrapping `provider.callback()`. It is fed the same client metadata as
 * our requests carry, as a JSON body (it has no software-statement support: no JWS is verified).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { intakeTlsOptions, type IntakeTls } from './bound-server.js';

interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

export interface RunningPeer {
  origin: string;
  /** the registration endpoint's path */
  path: string;
  stop(): Promise<void>;
}

/** oidc-provider ships no type declarations: load it through a non-literal specifier and type the little we use. */
async function loadProvider(): Promise<ProviderConstructor> {
  const specifier = 'oidc-provider';
  const mod = (await import(specifier)) as { default: ProviderConstructor };
  return mod.default;
}

export async function startPeer(tls: IntakeTls): Promise<RunningPeer> {
  const Provider = await loadProvider();
  const server: Server = createServer(intakeTlsOptions(tls));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `https://localhost:${port}`;
  // Its own signing keys (the quick-start development keys only allow RS256 ID tokens).
  const rsa = await generateKeyPair('PS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(rsa.privateKey)), kid: 'peer-rsa' }, { ...(await exportJWK(ec.privateKey)), kid: 'peer-ec' }] };
  const provider = new Provider(origin, {
    clients: [],
    jwks,
    features: {
      registration: { enabled: true },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
    },
    responseTypes: ['code id_token', 'code', 'none'],
    scopes: ['openid', 'offline_access', 'accounts', 'payments', 'fundsconfirmations'],
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['PS256', 'ES256', 'RS256'],
      idTokenSigningAlgValues: ['PS256', 'ES256', 'RS256'],
      requestObjectSigningAlgValues: ['PS256', 'ES256', 'RS256'],
    },
    cookies: { keys: ['bench-cookie-key-not-secret-0123456789'] },
  });
  const callback = provider.callback();
  server.on('request', callback);
  return {
    origin,
    path: '/reg',
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Our request claims as RFC 7591 JSON for the peer: the same metadata, with the software's public
 * signing key inline (`jwks`, which private_key_jwt needs there) instead of the SSA's JWKS URL, and
 * `implicit` added to grant_types (oidc-provider requires it for `code id_token`).
 */
export function peerMetadata(claims: Record<string, unknown>, publicJwk: Record<string, unknown>): string {
  const grantTypes = Array.isArray(claims.grant_types) ? [...(claims.grant_types as string[])] : ['authorization_code'];
  if (!grantTypes.includes('implicit')) grantTypes.push('implicit');
  return JSON.stringify({
    redirect_uris: claims.redirect_uris,
    token_endpoint_auth_method: claims.token_endpoint_auth_method,
    token_endpoint_auth_signing_alg: claims.token_endpoint_auth_signing_alg,
    grant_types: grantTypes,
    response_types: claims.response_types,
    application_type: claims.application_type,
    id_token_signed_response_alg: claims.id_token_signed_response_alg,
    request_object_signing_alg: claims.request_object_signing_alg,
    scope: claims.scope,
    jwks: { keys: [publicJwk] },
  });
}
