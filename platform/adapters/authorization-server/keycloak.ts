import type { OutboundFetcher, OutboundResponse } from '../../http/outbound-fetcher.js';
import { AsClientRefused, AsUnavailable, type AsClient, type AuthorizationServerPort } from '../../../core/ports/authorization-server.js';
import type { Logger } from '../../runtime/logger.js';

export interface KeycloakOptions {
  /** Base URL, e.g. `https://keycloak:8443` (no trailing slash). */
  url: string;
  realm: string;
  /** The service account: a confidential client with `manage-clients` of the realm's `realm-management`. */
  clientId: string;
  clientSecret: string;
  /**
   * The `aud` Keycloak puts in the clients' access tokens (an audience mapper on each client): the
   * management endpoints take AS tokens only when `aud` names this service (its public URL).
   */
  audience: string;
  /** Every call goes through the allow-listed, size- and time-limited fetcher. */
  fetcher: Pick<OutboundFetcher, 'request'>;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/** Client scopes every provisioned client gets: `basic` (`sub`, `iat`…), `service_account` (the `client_id` claim). */
export const KEYCLOAK_DEFAULT_SCOPES = ['basic', 'service_account'] as const;
/** Scopes that are not Keycloak client scopes (Keycloak accepts `openid` always). */
const IMPLICIT_SCOPES = new Set(['openid']);
/** Renew the service-account token this long before it expires. */
const TOKEN_SKEW_MS = 30_000;

/** Keycloak's ClientRepresentation, as far as we set it. */
export interface KeycloakClientRepresentation {
  clientId: string;
  name: string;
  description: string;
  enabled: true;
  protocol: 'openid-connect';
  publicClient: false;
  bearerOnly: false;
  consentRequired: false;
  standardFlowEnabled: boolean;
  implicitFlowEnabled: false;
  directAccessGrantsEnabled: false;
  serviceAccountsEnabled: boolean;
  frontchannelLogout: false;
  fullScopeAllowed: false;
  clientAuthenticatorType: 'client-x509' | 'client-jwt';
  redirectUris: string[];
  webOrigins: string[];
  attributes: Record<string, string>;
  defaultClientScopes: string[];
  optionalClientScopes: string[];
  protocolMappers: KeycloakProtocolMapper[];
}

export interface KeycloakProtocolMapper {
  name: string;
  protocol: 'openid-connect';
  protocolMapper: string;
  config: Record<string, string>;
}

/** The mapper that puts our audience into the client's access tokens (`aud`). */
export const AUDIENCE_MAPPER = 'dcr-audience';

function audienceMapper(audience: string): KeycloakProtocolMapper {
  return {
    name: AUDIENCE_MAPPER,
    protocol: 'openid-connect',
    protocolMapper: 'oidc-audience-mapper',
    config: { 'included.custom.audience': audience, 'access.token.claim': 'true', 'introspection.token.claim': 'true', 'id.token.claim': 'false' },
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Our registered metadata (RFC 7591 §2) as the Keycloak client a FAPI / OBIE client needs. Throws
 * {@link AsClientRefused} for metadata Keycloak cannot carry. `realmScopes` are the realm's client
 * scope names: a registered scope must be one of them.
 */
export function toKeycloakClient(client: AsClient, realmScopes: ReadonlySet<string>, audience: string): KeycloakClientRepresentation {
  const m = client.metadata;
  const grantTypes = m['grant_types'] === undefined ? ['authorization_code'] : strings(m['grant_types']); // RFC 7591 §2 default
  const method = str(m['token_endpoint_auth_method']);
  const attributes: Record<string, string> = {
    // RFC 9068 §2.1: access tokens typed at+jwt (off by default in Keycloak)
    'access.token.header.type.rfc9068': 'true',
    // RFC 8705 §3: certificate-bound access tokens (FAPI requires them; OBIE registers true)
    'tls.client.certificate.bound.access.tokens': m['tls_client_certificate_bound_access_tokens'] === false ? 'false' : 'true',
    'access.token.signed.response.alg': 'PS256',
    'use.refresh.tokens': grantTypes.includes('refresh_token') ? 'true' : 'false',
    'client_credentials.use_refresh_token': 'false',
    'dcr.org_id': client.orgId,
    'dcr.software_id': client.softwareId,
  };
  let authenticator: KeycloakClientRepresentation['clientAuthenticatorType'];
  if (method === 'tls_client_auth') {
    const dn = str(m['tls_client_auth_subject_dn']);
    if (!dn) throw new AsClientRefused('keycloak', 'tls_client_auth needs tls_client_auth_subject_dn');
    authenticator = 'client-x509';
    attributes['x509.subjectdn'] = dn;
    // RFC 8705 §2.1.2: the DN is compared as a DN (RFC 4514), never as a regular expression: a DN with
    // '.', '+' or '*' in it must not match other subjects.
    attributes['x509.allow.regex.pattern.comparison'] = 'false';
  } else if (method === 'private_key_jwt') {
    authenticator = 'client-jwt';
    const jwksUri = str(m['jwks_uri']);
    if (jwksUri) {
      attributes['use.jwks.url'] = 'true';
      attributes['jwks.url'] = jwksUri;
    } else if (m['jwks'] !== undefined) {
      attributes['use.jwks.url'] = 'false';
      attributes['use.jwks.string'] = 'true';
      attributes['jwks.string'] = JSON.stringify(m['jwks']);
    } else {
      throw new AsClientRefused('keycloak', 'private_key_jwt needs jwks_uri or jwks');
    }
    const alg = str(m['token_endpoint_auth_signing_alg']);
    if (alg) attributes['token.endpoint.auth.signing.alg'] = alg;
  } else {
    throw new AsClientRefused('keycloak', `token_endpoint_auth_method ${method ?? '(none)'} is not provisioned at Keycloak (tls_client_auth or private_key_jwt)`);
  }
  const idTokenAlg = str(m['id_token_signed_response_alg']);
  if (idTokenAlg) attributes['id.token.signed.response.alg'] = idTokenAlg;
  const requestObjectAlg = str(m['request_object_signing_alg']);
  if (requestObjectAlg) attributes['request.object.signature.alg'] = requestObjectAlg;

  const codeFlow = grantTypes.includes('authorization_code');
  const redirectUris = codeFlow ? strings(m['redirect_uris']) : [];
  if (codeFlow && redirectUris.length === 0) throw new AsClientRefused('keycloak', 'authorization_code needs redirect_uris');

  const scopes = (str(m['scope']) ?? '').split(' ').filter((s) => s !== '' && !IMPLICIT_SCOPES.has(s));
  const unknown = scopes.filter((s) => !realmScopes.has(s));
  if (unknown.length > 0) throw new AsClientRefused('keycloak', `scope ${unknown.join(' ')} is not a client scope of the bank's realm`.slice(0, 300));

  return {
    clientId: client.clientId,
    name: (str(m['client_name']) ?? client.softwareId).slice(0, 255),
    description: `DCR: org ${client.orgId}, software ${client.softwareId}`.slice(0, 255),
    enabled: true,
    protocol: 'openid-connect',
    publicClient: false,
    bearerOnly: false,
    consentRequired: false,
    standardFlowEnabled: codeFlow,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: grantTypes.includes('client_credentials'),
    frontchannelLogout: false,
    fullScopeAllowed: false,
    clientAuthenticatorType: authenticator,
    redirectUris,
    webOrigins: [],
    attributes,
    defaultClientScopes: [...KEYCLOAK_DEFAULT_SCOPES],
    // Optional: a token carries a registered scope when the client asks for it (`scope` parameter).
    optionalClientScopes: [...new Set(scopes)],
    protocolMappers: [audienceMapper(audience)],
  };
}

interface KeycloakScope {
  id: string;
  name: string;
}

/**
 * `DCR_AS_PROVISIONING=keycloak`: the client is created in the bank's Keycloak realm through its
 * Admin REST API before `registered` is committed, with a service account (client credentials with
 * its secret at the realm's token endpoint; the token cached until shortly before it expires and
 * renewed on a 401). Upsert: find by `clientId`, then PUT (or POST; a 409 from a concurrent create
 * finds and PUTs). Delete: find, then DELETE (absent is fine). Keycloak's 400 for the metadata is
 * {@link AsClientRefused}; a refused connection, timeout, 5xx or a 401/403 of the service account is
 * {@link AsUnavailable} (retried, then `failed` and replayable).
 */
export class KeycloakAuthorizationServer implements AuthorizationServerPort {
  readonly name = 'keycloak' as const;
  readonly #o: KeycloakOptions;
  readonly #admin: string;
  #token: { value: string; renewAt: number } | undefined;
  #tokenInflight: Promise<string> | undefined;
  #scopes: { byName: Map<string, KeycloakScope>; at: number } | undefined;

  constructor(options: KeycloakOptions) {
    this.#o = { ...options, url: options.url.replace(/\/+$/, '') };
    this.#admin = `${this.#o.url}/admin/realms/${encodeURIComponent(this.#o.realm)}`;
  }

  get tokenEndpoint(): string {
    return `${this.#o.url}/realms/${encodeURIComponent(this.#o.realm)}/protocol/openid-connect/token`;
  }

  async upsertClient(client: AsClient): Promise<void> {
    const scopes = await this.#realmScopes(false);
    let rep: KeycloakClientRepresentation;
    try {
      rep = toKeycloakClient(client, new Set(scopes.keys()), this.#o.audience);
    } catch (error) {
      // a scope created in the realm a moment ago: read the scopes once more before refusing
      if (!(error instanceof AsClientRefused) || !error.description.startsWith('scope ')) throw error;
      rep = toKeycloakClient(client, new Set((await this.#realmScopes(true)).keys()), this.#o.audience);
    }
    let id = await this.#find(client.clientId);
    if (!id) {
      const res = await this.#call('POST', '/clients', rep);
      if (res.status === 201) {
        id = idFromLocation(res) ?? (await this.#find(client.clientId));
        if (!id) throw new AsUnavailable('keycloak', `client ${client.clientId} created but not found`);
        await this.#syncScopes(id, rep);
        await this.#syncMappers(id, rep);
        return;
      }
      if (res.status !== 409) throw this.#failure(res, `creating client ${client.clientId}`);
      // created concurrently (a redelivery racing us): replace it
      id = await this.#find(client.clientId);
      if (!id) throw new AsUnavailable('keycloak', `client ${client.clientId}: 409 on create, then not found`);
    }
    const res = await this.#call('PUT', `/clients/${id}`, rep);
    if (res.status !== 204 && res.status !== 200) throw this.#failure(res, `updating client ${client.clientId}`);
    await this.#syncScopes(id, rep);
    await this.#syncMappers(id, rep);
  }

  async deleteClient(clientId: string): Promise<void> {
    const id = await this.#find(clientId);
    if (!id) return;
    const res = await this.#call('DELETE', `/clients/${id}`);
    if (res.status !== 204 && res.status !== 404) throw this.#failure(res, `deleting client ${clientId}`);
  }

  async awaitApplied(): Promise<boolean> {
    // The Admin API answered after its transaction committed: the client is usable at once.
    return true;
  }

  async close(): Promise<void> {
    this.#token = undefined;
  }

  /** Keycloak's internal id of the client whose `clientId` is exactly this one, if any. */
  async #find(clientId: string): Promise<string | undefined> {
    const res = await this.#call('GET', `/clients?clientId=${encodeURIComponent(clientId)}&search=false`);
    if (res.status !== 200) throw this.#failure(res, `finding client ${clientId}`);
    const found = parseJson(res);
    if (!Array.isArray(found)) throw new AsUnavailable('keycloak', `finding client ${clientId}: the answer is not a list`);
    const match = found.find((c): c is { id: string; clientId: string } => typeof c === 'object' && c !== null && (c as Record<string, unknown>)['clientId'] === clientId && typeof (c as Record<string, unknown>)['id'] === 'string');
    return match?.id;
  }

  /** The realm's client scopes by name (cached for a minute; `fresh` reads them again). */
  async #realmScopes(fresh: boolean): Promise<Map<string, KeycloakScope>> {
    if (!fresh && this.#scopes && Date.now() - this.#scopes.at < 60_000) return this.#scopes.byName;
    const res = await this.#call('GET', '/client-scopes');
    if (res.status !== 200) throw this.#failure(res, 'listing client scopes');
    const list = parseJson(res);
    if (!Array.isArray(list)) throw new AsUnavailable('keycloak', 'listing client scopes: the answer is not a list');
    const byName = new Map<string, KeycloakScope>();
    for (const s of list) {
      const r = s as Record<string, unknown>;
      if (typeof r['id'] === 'string' && typeof r['name'] === 'string' && (r['protocol'] === undefined || r['protocol'] === 'openid-connect')) byName.set(r['name'], { id: r['id'], name: r['name'] });
    }
    this.#scopes = { byName, at: Date.now() };
    return byName;
  }

  /**
   * Makes the client's default and optional client scopes exactly the representation's (a PUT does
   * not change them; a POST applies them, but a redelivered upsert may find a client made earlier).
   */
  async #syncScopes(id: string, rep: KeycloakClientRepresentation): Promise<void> {
    const scopes = await this.#realmScopes(false);
    for (const kind of ['default', 'optional'] as const) {
      const wanted = new Set(kind === 'default' ? rep.defaultClientScopes : rep.optionalClientScopes);
      const res = await this.#call('GET', `/clients/${id}/${kind}-client-scopes`);
      if (res.status !== 200) throw this.#failure(res, `reading the ${kind} client scopes of ${rep.clientId}`);
      const current = (parseJson(res) as Array<{ id: string; name: string }>) ?? [];
      for (const s of current) {
        if (wanted.has(s.name)) continue;
        const del = await this.#call('DELETE', `/clients/${id}/${kind}-client-scopes/${s.id}`);
        if (del.status !== 204 && del.status !== 404) throw this.#failure(del, `removing ${kind} client scope ${s.name} of ${rep.clientId}`);
      }
      for (const name of wanted) {
        if (current.some((s) => s.name === name)) continue;
        const scope = scopes.get(name);
        if (!scope) {
          if (kind === 'default') continue; // a realm without `service_account` (Keycloak < 26): nothing to add
          throw new AsClientRefused('keycloak', `scope ${name} is not a client scope of the bank's realm`);
        }
        const put = await this.#call('PUT', `/clients/${id}/${kind}-client-scopes/${scope.id}`);
        if (put.status !== 204 && put.status !== 200) throw this.#failure(put, `adding ${kind} client scope ${name} to ${rep.clientId}`);
      }
    }
  }

  /** Makes our protocol mappers (by name) exactly the representation's: a PUT of the client leaves mappers alone. */
  async #syncMappers(id: string, rep: KeycloakClientRepresentation): Promise<void> {
    const res = await this.#call('GET', `/clients/${id}/protocol-mappers/models`);
    if (res.status !== 200) throw this.#failure(res, `reading the protocol mappers of ${rep.clientId}`);
    const current = (parseJson(res) as Array<{ id: string; name: string; protocolMapper: string; config?: Record<string, string> }>) ?? [];
    for (const wanted of rep.protocolMappers) {
      const found = current.find((m) => m.name === wanted.name);
      if (found && found.protocolMapper === wanted.protocolMapper && JSON.stringify(found.config ?? {}) === JSON.stringify(wanted.config)) continue;
      const write = found
        ? await this.#call('PUT', `/clients/${id}/protocol-mappers/models/${found.id}`, { ...wanted, id: found.id })
        : await this.#call('POST', `/clients/${id}/protocol-mappers/models`, wanted);
      if (write.status !== 204 && write.status !== 201 && write.status !== 200 && write.status !== 409) throw this.#failure(write, `writing protocol mapper ${wanted.name} of ${rep.clientId}`);
    }
  }

  /** One Admin API call with the service account's token, renewed once on a 401. */
  async #call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<OutboundResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#accessToken(attempt > 0);
      const res = await this.#send(`${this.#admin}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (res.status === 401 && attempt === 0) {
        this.#token = undefined;
        continue;
      }
      return res;
    }
  }

  async #send(url: string, init: Parameters<OutboundFetcher['request']>[1]): Promise<OutboundResponse> {
    try {
      return await this.#o.fetcher.request(url, init);
    } catch (error) {
      // refused connection, TLS failure, timeout, size limit, allow-list: the AS is not usable now
      throw new AsUnavailable('keycloak', `${init.method} ${new URL(url).pathname} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  async #accessToken(renew: boolean): Promise<string> {
    if (!renew && this.#token && Date.now() < this.#token.renewAt) return this.#token.value;
    this.#tokenInflight ??= this.#fetchToken().finally(() => {
      this.#tokenInflight = undefined;
    });
    return this.#tokenInflight;
  }

  async #fetchToken(): Promise<string> {
    const basic = Buffer.from(`${encodeURIComponent(this.#o.clientId)}:${encodeURIComponent(this.#o.clientSecret)}`).toString('base64');
    const res = await this.#send(this.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
    });
    if (res.status !== 200) {
      const error = errorOf(res);
      throw new AsUnavailable('keycloak', `the service account ${this.#o.clientId} got no token (HTTP ${res.status}${error ? `: ${error}` : ''})`);
    }
    const body = parseJson(res) as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof body?.access_token !== 'string') throw new AsUnavailable('keycloak', 'the token response has no access_token');
    const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    this.#token = { value: body.access_token, renewAt: Date.now() + Math.max(lifetimeMs - TOKEN_SKEW_MS, lifetimeMs / 2) };
    return body.access_token;
  }

  /** A status that is not success: 400 is the metadata's (final), anything else the AS's (retryable). */
  #failure(res: OutboundResponse, doing: string): Error {
    const error = errorOf(res);
    if (res.status === 400) return new AsClientRefused('keycloak', `${doing}: ${error ?? 'Keycloak answered 400'}`.slice(0, 300));
    if (res.status === 401 || res.status === 403) {
      return new AsUnavailable('keycloak', `${doing}: the service account ${this.#o.clientId} is not allowed (HTTP ${res.status}; it needs manage-clients of realm-management)`);
    }
    this.#o.logger?.warn({ status: res.status, doing }, 'Keycloak Admin API failed');
    return new AsUnavailable('keycloak', `${doing}: HTTP ${res.status}${error ? ` (${error})` : ''}`);
  }
}

function parseJson(res: OutboundResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Keycloak's error text (`errorMessage`, `error_description` or `error`), printable and short; never a token. */
function errorOf(res: OutboundResponse): string | undefined {
  const body = parseJson(res);
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const text = [b['errorMessage'], b['error_description'], b['error']].find((v): v is string => typeof v === 'string' && v !== '');
  return text?.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** `Location: …/clients/{id}` of a 201. */
function idFromLocation(res: OutboundResponse): string | undefined {
  const location = res.headers['location'];
  const value = Array.isArray(location) ? location[0] : location;
  return value ? /\/clients\/([^/?#]+)$/.exec(value)?.[1] : undefined;
}
