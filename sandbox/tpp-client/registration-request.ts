import { randomUUID } from 'node:crypto';
import { decodeJwt, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/** What a TPP needs to build a registration request (from the sandbox or explicit files). */
export interface TppCredentials {
  softwareId: string;
  ssa: string;
  signingJwk: JWK;
  kid: string;
  alg: 'PS256' | 'ES256' | 'EdDSA';
  redirectUris: string[];
  roles: string[];
}

/** Keyed by input (the SSA's roles): a Map, so `constructor` or `__proto__` is an unknown role, not Object.prototype's member. */
const ROLE_SCOPES: ReadonlyMap<string, string> = new Map([
  ['AISP', 'accounts'],
  ['PISP', 'payments'],
  ['CBPII', 'fundsconfirmations'],
]);

/** The OBIE 3.3 request claims a TPP sends by default (as conformance-dcr does, SPEC §11.1). */
export function defaultRegistrationClaims(tpp: TppCredentials, audience: string, now = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  const scopes = ['openid', ...tpp.roles.map((r) => ROLE_SCOPES.get(r)).filter((s): s is string => s !== undefined)];
  return {
    iss: tpp.softwareId,
    aud: audience,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    redirect_uris: tpp.redirectUris,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: tpp.alg,
    grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
    response_types: ['code id_token'],
    application_type: 'web',
    id_token_signed_response_alg: tpp.alg,
    request_object_signing_alg: tpp.alg,
    scope: scopes.join(' '),
    software_id: tpp.softwareId,
    software_statement: tpp.ssa,
  };
}

const keyCache = new WeakMap<JWK, Promise<CryptoKey | Uint8Array>>();

/** Signs the request claims with the TPP's signing key (`kid` from the software JWKS). */
export async function signRegistrationRequest(tpp: TppCredentials, claims: Record<string, unknown>): Promise<string> {
  let key = keyCache.get(tpp.signingJwk);
  if (!key) {
    key = importJWK(tpp.signingJwk, tpp.alg) as Promise<CryptoKey | Uint8Array>;
    keyCache.set(tpp.signingJwk, key);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: tpp.alg, kid: tpp.kid, typ: 'JWT' }).sign(await key);
}

/**
 * The request claims a TPP of the profile's ecosystem sends by default: OBIE's ({@link
 * defaultRegistrationClaims}) elsewhere; CDR: a subset of the Register SSA scope including
 * `cdr:registration`, response type `code` with a signed authorization response (JARM); Open
 * Finance Brasil: the JSON metadata of the Brasil DCR (no request JWT claims).
 */
export function registrationClaimsFor(profile: string, tpp: TppCredentials, audience: string, now = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  const obie = defaultRegistrationClaims(tpp, audience, now);
  if (profile === 'cdr') {
    const { software_id: _softwareId, ...claims } = obie;
    return {
      ...claims,
      response_types: ['code'],
      authorization_signed_response_alg: tpp.alg,
      scope: 'openid bank:accounts.basic:read cdr:registration',
    };
  }
  if (profile === 'openfinance-br') {
    // Webhooks at every base URI the directory holds for the software (DCR items 18–19).
    const webhooks = decodeJwt(tpp.ssa).software_api_webhook_uris;
    return {
      ...(Array.isArray(webhooks) && webhooks.length > 0 ? { webhook_uris: webhooks } : {}),
      software_statement: tpp.ssa,
      redirect_uris: tpp.redirectUris,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'PS256',
      grant_types: ['authorization_code', 'implicit', 'client_credentials', 'refresh_token'],
      response_types: ['code id_token'],
      id_token_signed_response_alg: 'PS256',
      request_object_signing_alg: 'PS256',
    };
  }
  return obie;
}

/** The request body as the profile takes it: a signed JWT (`application/jwt`) or JSON (`openfinance-br`). */
export async function registrationRequestFor(profile: string, tpp: TppCredentials, claims: Record<string, unknown>): Promise<{ body: string; contentType: string }> {
  if (profile === 'openfinance-br') return { body: JSON.stringify(claims), contentType: 'application/json' };
  return { body: await signRegistrationRequest(tpp, claims), contentType: 'application/jwt' };
}
