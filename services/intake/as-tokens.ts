import { rootCertificates } from 'node:tls';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../../shared/config/schema.js';
import type { OutboundFetcher } from '../../shared/http/outbound-fetcher.js';
import type { KeyResolver } from '../../shared/jose/key-resolver.js';
import type { Profile } from '../../shared/profiles/types.js';
import type { Logger } from '../../shared/runtime/logger.js';
import type { Trust } from '../../shared/runtime/trust.js';
import { httpsRequest } from '../../shared/tpp-client/https-client.js';

/** What an AS access token must be bound to on a management call. */
export interface AsTokenContext {
  /** The path's client id: the token's `client_id` must equal it. */
  clientId: string;
  /** `x5t#S256` of the mTLS client certificate of the call, if any. */
  certificateThumbprint: string | null;
}

/** Why an AS token was refused (logged, never shown to the caller beyond a 401). */
export type AsTokenVerdict = { ok: true; via: 'jwt' | 'introspection' } | { ok: false; reason: string };

/**
 * Checks client-credentials access tokens of the bank's authorization server on the management
 * endpoints (SPEC §1 rule 4, CONTRACT "Authorization server").
 */
export interface AsTokenVerifier {
  verify(token: string, context: AsTokenContext): Promise<AsTokenVerdict>;
}

export interface AsTokenVerifierDeps {
  config: Pick<Config, 'as' | 'leewaySeconds'>;
  profile: Pick<Profile, 'management'>;
  keys: Pick<KeyResolver, 'resolve'>;
  fetcher: Pick<OutboundFetcher, 'check'>;
  trust: Pick<Trust, 'outboundCaPems'>;
  logger?: Pick<Logger, 'warn'>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** RFC 9068 §2.1 (oidc-provider sends `at+jwt`). */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);

function refuse(reason: string): AsTokenVerdict {
  return { ok: false, reason };
}

/** The claims every AS token must satisfy, however it was verified. */
function checkClaims(claims: Record<string, unknown>, context: AsTokenContext, requiredScope: string | null): AsTokenVerdict | null {
  if (claims.client_id !== context.clientId) return refuse('client_id does not match the path');
  const cnf = claims.cnf;
  if (cnf !== undefined) {
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return refuse('malformed cnf');
    const bound = (cnf as Record<string, unknown>)['x5t#S256'];
    if (bound !== undefined && (typeof bound !== 'string' || bound !== context.certificateThumbprint)) {
      return refuse('the token is bound to another certificate');
    }
  }
  if (requiredScope) {
    const scope = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scope.includes(requiredScope)) return refuse(`scope ${requiredScope} missing`);
  }
  return null;
}

/**
 * The verifier for this deployment, or null when the profile does not take AS tokens for
 * management or no AS is configured (`DCR_AS_JWKS_URL` / `DCR_AS_INTROSPECTION_URL`).
 */
export function createAsTokenVerifier(deps: AsTokenVerifierDeps): AsTokenVerifier | null {
  const { config, profile, keys, fetcher, trust, logger } = deps;
  if (!profile.management.tokenKinds.includes('client_credentials_access_token')) return null;
  const { issuer, jwksUrl, introspectionUrl, introspectionClientId, introspectionClientSecret } = config.as;
  if (!(issuer && jwksUrl) && !introspectionUrl) return null;
  const requiredScope = profile.management.requiredScope;
  const leeway = config.leewaySeconds;

  async function viaJwt(token: string, context: AsTokenContext): Promise<AsTokenVerdict> {
    if (!issuer || !jwksUrl) return refuse('JWT access tokens are not configured');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return refuse('unreadable JOSE header');
    }
    if (typeof header.kid !== 'string' || header.kid === '') return refuse('no kid');
    if (typeof header.typ !== 'string' || !ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase())) return refuse('typ is not at+jwt');
    let resolved: Awaited<ReturnType<KeyResolver['resolve']>>;
    try {
      resolved = await keys.resolve(jwksUrl, header.kid);
    } catch (error) {
      logger?.warn({ err: error, jwksUrl }, 'AS access-token key not resolved');
      return refuse('signing key not found');
    }
    if (header.alg !== resolved.alg) return refuse('alg does not fit the key');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, resolved.key, { issuer, algorithms: [resolved.alg], clockTolerance: leeway, requiredClaims: ['exp'] }));
    } catch (error) {
      return refuse(error instanceof Error ? error.message : 'invalid JWT');
    }
    return checkClaims(payload, context, requiredScope) ?? { ok: true, via: 'jwt' };
  }

  async function viaIntrospection(token: string, context: AsTokenContext): Promise<AsTokenVerdict> {
    if (!introspectionUrl || !introspectionClientId || !introspectionClientSecret) return refuse('introspection is not configured');
    try {
      fetcher.check(introspectionUrl);
    } catch (error) {
      logger?.warn({ err: error }, 'AS introspection endpoint refused by the outbound policy');
      return refuse('introspection endpoint not allowed');
    }
    const basic = Buffer.from(`${encodeURIComponent(introspectionClientId)}:${encodeURIComponent(introspectionClientSecret)}`).toString('base64');
    let claims: Record<string, unknown>;
    try {
      const res = await httpsRequest(introspectionUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        identity: { caPem: [...rootCertificates, ...trust.outboundCaPems] },
        timeoutMs: 5000,
      });
      if (res.status !== 200) {
        logger?.warn({ status: res.status }, 'AS introspection answered an error');
        return refuse(`introspection answered ${res.status}`);
      }
      const parsed = res.json<unknown>();
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse('introspection answer is not an object');
      claims = parsed as Record<string, unknown>;
    } catch (error) {
      logger?.warn({ err: error }, 'AS introspection failed');
      return refuse('introspection failed');
    }
    if (claims.active !== true) return refuse('inactive token');
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp === 'number' && claims.exp + leeway < now) return refuse('expired');
    if (issuer && claims.iss !== undefined && claims.iss !== issuer) return refuse('iss mismatch');
    if (claims.token_type !== undefined && typeof claims.token_type === 'string' && !/^(bearer|access_token)$/i.test(claims.token_type)) {
      return refuse('not an access token');
    }
    return checkClaims(claims, context, requiredScope) ?? { ok: true, via: 'introspection' };
  }

  return {
    async verify(token, context) {
      if (JWT_SHAPE.test(token) && issuer && jwksUrl) return viaJwt(token, context);
      if (introspectionUrl) return viaIntrospection(token, context);
      return refuse('not a JWT access token');
    },
  };
}

/** The AS members the intake's discovery document carries (SPEC §11.1: the tool reads `token_endpoint`). */
export function asDiscoveryMembers(asMetadata: Record<string, unknown>, registrationEndpoint: string): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (typeof asMetadata.token_endpoint === 'string') extra.token_endpoint = asMetadata.token_endpoint;
  const aliases = asMetadata.mtls_endpoint_aliases;
  const tokenAlias = typeof aliases === 'object' && aliases !== null ? (aliases as Record<string, unknown>).token_endpoint : undefined;
  extra.mtls_endpoint_aliases = {
    ...(typeof tokenAlias === 'string' ? { token_endpoint: tokenAlias } : {}),
    registration_endpoint: registrationEndpoint,
  };
  return extra;
}

/**
 * Discovery extras read from `DCR_AS_ISSUER/.well-known/openid-configuration` through the
 * allow-listed fetcher, in the background (retried on the next discovery read until it succeeds).
 */
export function asDiscoveryExtra(deps: { config: Pick<Config, 'as' | 'publicUrl'>; fetcher: Pick<OutboundFetcher, 'fetchJson'>; logger?: Pick<Logger, 'warn'> }): () => Record<string, unknown> {
  const { config, fetcher, logger } = deps;
  let members: Record<string, unknown> = {};
  let loaded = false;
  let inflight: Promise<void> | null = null;
  let warned = false;
  const load = () => {
    if (loaded || inflight || !config.as.issuer) return;
    inflight = fetcher
      .fetchJson(`${config.as.issuer}/.well-known/openid-configuration`)
      .then(({ json }) => {
        if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
          members = asDiscoveryMembers(json as Record<string, unknown>, `${config.publicUrl}/register`);
          loaded = true;
        }
      })
      .catch((error: unknown) => {
        if (!warned) logger?.warn({ err: error }, 'the AS discovery document could not be read (retried on the next discovery read)');
        warned = true;
      })
      .finally(() => {
        inflight = null;
      });
  };
  load();
  return () => {
    load();
    return members;
  };
}
