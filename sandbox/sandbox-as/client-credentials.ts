import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import { httpsRequest, type HttpResponse, type MtlsIdentity } from '../tpp-client/https-client.js';
import type { TppCredentials } from '../tpp-client/registration-request.js';

export type TokenAuthMethod = 'tls_client_auth' | 'private_key_jwt';

export interface ClientCredentialsRequest {
  /** The AS token endpoint (its mTLS alias). */
  tokenEndpoint: string;
  clientId: string;
  method: TokenAuthMethod;
  /** The TPP's transport certificate: client authentication (`tls_client_auth`) and token binding. */
  identity: MtlsIdentity;
  /** The signing key for `private_key_jwt`. */
  credentials?: Pick<TppCredentials, 'signingJwk' | 'kid' | 'alg'>;
  scope?: string;
}

/**
 * A client-credentials grant as a TPP (and conformance-dcr) sends it: over mutual TLS, with
 * `tls_client_auth` (the certificate) or `private_key_jwt` (a PS256 client assertion for the token
 * endpoint, RFC 7523). Returns the raw answer.
 */
export async function requestClientCredentials(req: ClientCredentialsRequest): Promise<HttpResponse> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: req.clientId });
  if (req.scope) form.set('scope', req.scope);
  if (req.method === 'private_key_jwt') {
    if (!req.credentials) throw new Error('private_key_jwt needs the TPP signing key');
    const now = Math.floor(Date.now() / 1000);
    const key = await importJWK(req.credentials.signingJwk, req.credentials.alg);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: req.credentials.alg, kid: req.credentials.kid, typ: 'JWT' })
      .setIssuer(req.clientId)
      .setSubject(req.clientId)
      .setAudience(req.tokenEndpoint)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(key);
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set('client_assertion', assertion);
  }
  return httpsRequest(req.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
    identity: req.identity,
  });
}
