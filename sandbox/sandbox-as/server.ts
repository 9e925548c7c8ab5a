import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors, type Adapter, type AdapterPayload, type ProviderContext } from 'oidc-provider';
import { CLIENT_EVENT_TYPES, TOPICS, type ClientEventType } from '../../core/domain/events.js';
import type { DeliveredEvent, Subscription } from '../../core/ports/events.js';
import { certificateSubject, dnMatchesCertificate } from '../../platform/pki/dn.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import type { AsClientRecord, AsStore } from '../../core/ports/sandbox-as-store.js';
import { openAsStore } from '../../platform/runtime/service-stores.js';

/** The consumer group of the sandbox AS on `dcr.client.v1`. */
export const SANDBOX_AS_GROUP = 'sandbox-as';

/** Scopes the sandbox AS knows (OBIE, CDR management). */
export const SANDBOX_AS_SCOPES = ['openid', 'accounts', 'payments', 'fundsconfirmations', 'cdr:registration'] as const;

const AUTH_METHODS = ['private_key_jwt', 'tls_client_auth'] as const;
const SIGNING_ALGS = ['PS256', 'ES256'] as const;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;

export interface SandboxAsOptions {
  host: string;
  /** 0: a free port (the issuer is then `https://localhost:<port>`). */
  port: number;
  /** Default `https://localhost:<port>`. */
  issuer?: string;
  /** The AS's server certificate (the sandbox CA issues one for localhost). */
  tls: { certPem: string; keyPem: string };
  /** CAs of accepted client certificates (the sandbox CA). */
  clientCaPems: string[];
  /** The resource (audience) of the management tokens; default the intake's public URL. */
  resource?: string;
  /** `jwt` (default, RFC 9068) or `opaque` (checked by RFC 7662 introspection). */
  accessTokenFormat?: 'jwt' | 'opaque';
  /** A confidential client (client_secret_basic) allowed to call the introspection endpoint, e.g. the intake. */
  introspectionClient?: { clientId: string; clientSecret: string };
}

export interface RunningSandboxAs {
  issuer: string;
  port: number;
  jwksUrl: string;
  tokenEndpoint: string;
  introspectionEndpoint: string;
  store: AsStore;
  /** Members for the intake's discovery document (SPEC §11.1: the tool reads `token_endpoint`). */
  discoveryExtra(registrationEndpoint: string): Record<string, unknown>;
  stop(): Promise<void>;
}

/** The AS's access-token signing key (RSA, PS256), kept under `DCR_DATA_DIR/sandbox-as/`. */
async function signingKey(dataDir: string): Promise<JWK> {
  const file = join(dataDir, 'sandbox-as', 'signing-key.jwk.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch {
    const { privateKey } = await generateKeyPair('PS256', { modulusLength: 2048, extractable: true });
    const jwk = await exportJWK(privateKey);
    const key: JWK = { ...jwk, kid: await calculateJwkThumbprint(jwk), use: 'sig', alg: 'PS256' };
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(key), { mode: 0o600 });
    return key;
  }
}

function peerCertificate(ctx: ProviderContext): X509Certificate | undefined {
  const socket = ctx.req.socket as TLSSocket;
  if (typeof socket.getPeerX509Certificate !== 'function' || !socket.authorized) return undefined;
  return socket.getPeerX509Certificate();
}

function isClientEventType(type: string): type is ClientEventType {
  return (CLIENT_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * node-oidc-provider client metadata for a client learned from the event stream: the
 * client-credentials grant only, its registered auth method, certificate-bound tokens. A
 * `private_key_jwt` client's keys come from its `jwks_uri` through the allow-listed fetcher.
 */
async function providerClient(record: AsClientRecord | null, rt: Pick<Runtime, 'keys' | 'logger'>): Promise<AdapterPayload | undefined> {
  if (!record || record.status !== 'active') return undefined;
  const d = record.data;
  const method = d.token_endpoint_auth_method;
  if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) return undefined;
  const metadata: AdapterPayload = {
    client_id: record.clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: method,
    tls_client_certificate_bound_access_tokens: true,
    id_token_signed_response_alg: 'PS256',
  };
  if (typeof d.scope === 'string') {
    const scope = d.scope.split(' ').filter((s) => (SANDBOX_AS_SCOPES as readonly string[]).includes(s));
    if (scope.length > 0) metadata.scope = scope.join(' ');
  }
  if (method === 'tls_client_auth') {
    if (typeof d.tls_client_auth_subject_dn !== 'string') return undefined;
    metadata.tls_client_auth_subject_dn = d.tls_client_auth_subject_dn;
  } else {
    if (typeof d.jwks_uri !== 'string') return undefined;
    const alg = d.token_endpoint_auth_signing_alg;
    if (typeof alg === 'string' && (SIGNING_ALGS as readonly string[]).includes(alg)) metadata.token_endpoint_auth_signing_alg = alg;
    try {
      const keys = await rt.keys.keySet(d.jwks_uri);
      metadata.jwks = {
        keys: keys.filter((k) => k.use === undefined || k.use === 'sig').map((k) => Object.fromEntries(Object.entries(k).filter(([m]) => !(PRIVATE_JWK_MEMBERS as readonly string[]).includes(m)))),
      };
    } catch (error) {
      rt.logger.warn({ err: error, clientId: record.clientId }, 'sandbox AS: the client JWKS could not be read');
      return undefined;
    }
  }
  return metadata;
}

/**
 * The sandbox authorization server (CONTRACT "Authorization server"): node-oidc-provider over HTTPS
 * with mutual TLS, the client-credentials grant with `tls_client_auth` or `private_key_jwt`,
 * certificate-bound JWT access tokens (RFC 9068, PS256). It learns clients only from
 * `dcr.client.v1` (consumer group {@link SANDBOX_AS_GROUP}, from the beginning): created/updated
 * upsert, deleted removes, so a deleted client gets no more tokens.
 */
export async function startSandboxAs(rt: Runtime, options: SandboxAsOptions): Promise<RunningSandboxAs> {
  const store = await openAsStore(rt.config);
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server: Server = createServer(
    {
      key: options.tls.keyPem,
      cert: options.tls.certPem,
      ca: options.clientCaPems,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      if (handler) handler(req, res);
      else {
        res.statusCode = 503;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'starting' }));
      }
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = (options.issuer ?? `https://localhost:${port}`).replace(/\/+$/, '');
  const resource = options.resource ?? rt.config.publicUrl;
  const key = await signingKey(rt.config.dataDir);

  const provider = new Provider(issuer, {
    adapter: class SandboxAsAdapter implements Adapter {
      constructor(readonly model: string) {}
      async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined) {
        if (this.model === 'Client') return; // clients come from the event stream only
        await store.upsert(this.model, id, payload, expiresIn);
      }
      async find(id: string) {
        if (this.model === 'Client') return providerClient(await store.getClient(id), rt);
        return store.find(this.model, id);
      }
      findByUserCode(userCode: string) {
        return store.findBy(this.model, 'userCode', userCode);
      }
      findByUid(uid: string) {
        return store.findBy(this.model, 'uid', uid);
      }
      consume(id: string) {
        return store.consume(this.model, id);
      }
      destroy(id: string) {
        return store.destroy(this.model, id);
      }
      revokeByGrantId(grantId: string) {
        return store.revokeByGrantId(grantId);
      }
    },
    clients: options.introspectionClient
      ? [
          {
            client_id: options.introspectionClient.clientId,
            client_secret: options.introspectionClient.clientSecret,
            grant_types: [],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
            id_token_signed_response_alg: 'PS256',
          },
        ]
      : [],
    // No interactive flows here; the cookie keys only silence the start-up warning.
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [key] },
    clientAuthMethods: [...AUTH_METHODS, ...(options.introspectionClient ? ['client_secret_basic'] : [])],
    enabledJWA: {
      clientAuthSigningAlgValues: [...SIGNING_ALGS],
      idTokenSigningAlgValues: [...SIGNING_ALGS],
    },
    scopes: [...SANDBOX_AS_SCOPES],
    claims: { openid: ['sub'] },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The bank's introspection client may introspect any token; a TPP client only its own.
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          client.clientId === options.introspectionClient?.clientId || token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      // FAPI 1.0 Advanced for TPP clients; the bank's own introspection client is outside FAPI.
      fapi: { enabled: true, profile: (_ctx: unknown, client?: { clientId?: string }) => (client !== undefined && client.clientId === options.introspectionClient?.clientId ? undefined : '1.0 Final') },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: false,
        getCertificate: (ctx: ProviderContext) => peerCertificate(ctx),
        certificateAuthorized: (ctx: ProviderContext) => peerCertificate(ctx) !== undefined,
        certificateSubjectMatches: (ctx: ProviderContext, property: string, expected: string) => {
          const cert = peerCertificate(ctx);
          if (!cert || property !== 'tls_client_auth_subject_dn') return false;
          try {
            return dnMatchesCertificate(expected, certificateSubject(cert.raw));
          } catch {
            return false;
          }
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== resource) throw new errors.InvalidTarget('unknown resource');
          return { scope: SANDBOX_AS_SCOPES.join(' '), audience: resource, accessTokenTTL: 600, ...(options.accessTokenFormat === 'opaque' ? { accessTokenFormat: 'opaque' } : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'PS256' } } }) };
        },
      },
    },
    discovery: { mtls_endpoint_aliases: { token_endpoint: `${issuer}/token`, introspection_endpoint: `${issuer}/token/introspection` } },
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => rt.logger.error({ err: error }, 'sandbox AS server error'));
  handler = provider.callback();

  const subscription: Subscription = await rt.adapters.bus.subscribe(
    { groupId: SANDBOX_AS_GROUP, topics: [TOPICS.client], fromBeginning: true },
    async (event: DeliveredEvent) => {
      if (!isClientEventType(event.type)) return;
      const clientId = event.data.client_id;
      const timeMs = Date.parse(event.time);
      if (typeof clientId !== 'string' || clientId === '' || Number.isNaN(timeMs)) {
        rt.logger.warn({ eventId: event.id, type: event.type }, 'sandbox AS: skipping a malformed client event');
        return;
      }
      const status = event.type === 'dcr.client.deleted' || event.data.status === 'deleted' ? 'deleted' : 'active';
      const result = await store.applyClient({ id: event.id, timeMs, clientId, status, data: event.data });
      rt.logger.debug({ eventId: event.id, type: event.type, clientId, result }, 'sandbox AS client');
    },
  );

  return {
    issuer,
    port,
    jwksUrl: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    store,
    discoveryExtra: (registrationEndpoint) => ({
      token_endpoint: `${issuer}/token`,
      mtls_endpoint_aliases: { token_endpoint: `${issuer}/token`, registration_endpoint: registrationEndpoint },
    }),
    async stop() {
      await subscription.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}
