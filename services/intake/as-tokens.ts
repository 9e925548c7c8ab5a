import { createHash } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../../platform/config/schema.js';
import type { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import type { KeyResolver } from '../../platform/jose/key-resolver.js';
import type { Profile } from '../../core/profiles/types.js';
import type { Logger } from '../../platform/runtime/logger.js';

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
  config: Pick<Config, 'as' | 'leewaySeconds' | 'publicUrl' | 'audiences'>;
  profile: Pick<Profile, 'management'>;
  keys: Pick<KeyResolver, 'resolve'>;
  /** Introspection goes through the allow-listed, size- and time-limited fetcher. */
  fetcher: Pick<OutboundFetcher, 'request'>;
  logger?: Pick<Logger, 'warn' | 'debug'>;
  clock?: () => number;
}

/** RFC 7662 answers are reused this long at most (and never past the token's `exp`). */
export const INTROSPECTION_CACHE_SECONDS = 30;
/** Most introspection answers kept (keyed by a SHA-256 of the token; the token itself is not kept). */
export const INTROSPECTION_CACHE_ENTRIES = 10_000;

/** A bounded, short-lived memo of introspection answers: active claims, or `inactive`. */
class IntrospectionCache {
  readonly #entries = new Map<string, { claims: Record<string, unknown> | null; until: number }>();
  constructor(readonly clock: () => number) {}

  static key(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string): { claims: Record<string, unknown> | null } | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.clock()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, claims: Record<string, unknown> | null): void {
    const now = this.clock();
    let until = now + INTROSPECTION_CACHE_SECONDS * 1000;
    if (claims && typeof claims.exp === 'number') until = Math.min(until, claims.exp * 1000);
    if (until <= now) return;
    this.#entries.delete(key);
    if (this.#entries.size >= INTROSPECTION_CACHE_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { claims, until });
  }
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** RFC 9068 §2.1 (oidc-provider sends `at+jwt`). */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);

function refuse(reason: string): AsTokenVerdict {
  return { ok: false, reason };
}

/**
 * The claims every AS token must satisfy, however it was verified: `aud` names this service
 * (RFC 9068 §4; for introspection, when the AS tells it), `client_id` is the path's, and a `cnf`
 * that is present binds the token to the presented certificate (RFC 8705 §3: `x5t#S256`). A `cnf`
 * without `x5t#S256` (`{}`, or a DPoP `jkt`, RFC 9449 §6) is bound to something this call cannot
 * prove: refused, never taken for an unbound token.
 */
function checkClaims(claims: Record<string, unknown>, context: AsTokenContext, requiredScope: string | null, audiences: readonly string[], audRequired: boolean): AsTokenVerdict | null {
  const aud = claims.aud;
  if (aud === undefined) {
    if (audRequired) return refuse('no aud');
  } else {
    const values = Array.isArray(aud) ? aud : [aud];
    if (!values.some((v) => typeof v === 'string' && audiences.includes(v))) return refuse('aud does not name this service');
  }
  if (claims.client_id !== context.clientId) return refuse('client_id does not match the path');
  const cnf = claims.cnf;
  if (cnf !== undefined) {
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return refuse('malformed cnf');
    const bound = (cnf as Record<string, unknown>)['x5t#S256'];
    if (typeof bound !== 'string' || bound === '') return refuse('the token is bound to a key this call cannot prove (cnf without x5t#S256)');
    if (bound !== context.certificateThumbprint) return refuse('the token is bound to another certificate');
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
  const { config, profile, keys, fetcher, logger } = deps;
  if (!profile.management.tokenKinds.includes('client_credentials_access_token')) return null;
  const { issuer, jwksUrl, introspectionUrl, introspectionClientId, introspectionClientSecret } = config.as;
  if (!(issuer && jwksUrl) && !introspectionUrl) return null;
  const requiredScope = profile.management.requiredScope;
  const leeway = config.leewaySeconds;
  const audiences = config.as.tokenAudiences ?? [...new Set([config.publicUrl, ...config.audiences])];
  const clock = deps.clock ?? Date.now;
  const introspected = new IntrospectionCache(clock);

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
      // Any JWT-shaped string gets here: one short line, no stack (a flood must not grow the log).
      logger?.debug({ jwksUrl, kid: header.kid.slice(0, 64), reason: error instanceof Error ? error.message.slice(0, 200) : 'unknown' }, 'AS access-token key not resolved');
      return refuse('signing key not found');
    }
    if (header.alg !== resolved.alg) return refuse('alg does not fit the key');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, resolved.key, { issuer, algorithms: [resolved.alg], clockTolerance: leeway, requiredClaims: ['exp', 'aud'] }));
    } catch (error) {
      return refuse(error instanceof Error ? error.message : 'invalid JWT');
    }
    return checkClaims(payload, context, requiredScope, audiences, true) ?? { ok: true, via: 'jwt' };
  }

  /** RFC 7662 §2: the AS's answer for the token, through the outbound fetcher; cached (positive and negative). */
  async function introspect(token: string): Promise<{ claims: Record<string, unknown> | null } | { error: string }> {
    if (!introspectionUrl || !introspectionClientId || !introspectionClientSecret) return { error: 'introspection is not configured' };
    const key = IntrospectionCache.key(token);
    const hit = introspected.get(key);
    if (hit) return hit;
    const basic = Buffer.from(`${encodeURIComponent(introspectionClientId)}:${encodeURIComponent(introspectionClientSecret)}`).toString('base64');
    let parsed: unknown;
    try {
      const res = await fetcher.request(introspectionUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      if (res.status !== 200) {
        logger?.warn({ status: res.status }, 'AS introspection answered an error');
        return { error: `introspection answered ${res.status}` };
      }
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch (error) {
      logger?.warn({ reason: error instanceof Error ? error.message.slice(0, 200) : 'unknown' }, 'AS introspection failed');
      return { error: 'introspection failed' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'introspection answer is not an object' };
    const claims = parsed as Record<string, unknown>;
    const answer = claims.active === true ? claims : null;
    introspected.set(key, answer);
    return { claims: answer };
  }

  async function viaIntrospection(token: string, context: AsTokenContext): Promise<AsTokenVerdict> {
    const answer = await introspect(token);
    if ('error' in answer) return refuse(answer.error);
    const claims = answer.claims;
    if (!claims) return refuse('inactive token');
    const now = Math.floor(clock() / 1000);
    if (typeof claims.exp === 'number' && claims.exp + leeway < now) return refuse('expired');
    if (issuer && claims.iss !== undefined && claims.iss !== issuer) return refuse('iss mismatch');
    if (claims.token_type !== undefined && typeof claims.token_type === 'string' && !/^(bearer|access_token)$/i.test(claims.token_type)) {
      return refuse('not an access token');
    }
    // RFC 7662 §2.2: `aud` is optional in an introspection answer; when given, it must name us.
    return checkClaims(claims, context, requiredScope, audiences, false) ?? { ok: true, via: 'introspection' };
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
