import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { debugRequestLogging } from '../../platform/http/request-log.js';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Profile } from '../../core/profiles/types.js';
import { clientCertificatePlugin } from './plugins/client-certificate.js';
import { clientDeleteRoute } from './routes/client.delete.js';
import { clientGetRoute } from './routes/client.get.js';
import { clientPutRoute } from './routes/client.put.js';
import { RegistrationRequestBody } from './routes/client-schemas.js';
import { errorsPlugin } from '../../platform/http/fastify-errors.js';
import { traceHttpRequests } from '../../platform/observability/tracing.js';
import type { AsTokenVerifier } from './as-tokens.js';
import type { DirectoryVerdicts } from './management-auth.js';
import { clientErrorHandler, frameworkErrors, protectionPlugin, type ProtectionOptions } from './plugins/protection.js';
import { discoveryRoute } from './routes/discovery.get.js';
import { healthRoutes } from './routes/health.js';
import { registerPostRoute } from './routes/register.post.js';
import { requestStatusRoute } from './routes/request-status.get.js';
import type { SubmissionDeps } from './submission.js';
import { DEFAULT_SERVER_TIMEOUTS, serverTimeoutOptions, type ServerTimeouts } from '../../platform/http/server-timeouts.js';

/** FAPI 1.0 Advanced §8.5 cipher suites for TLS 1.2 (TLS 1.3 suites are all acceptable). */
export const FAPI_TLS12_CIPHERS = [
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
];
const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export interface IntakeAppOptions {
  deps: SubmissionDeps;
  profile: Profile;
  publicUrl: string;
  syncWaitMs: number;
  tls: { certPem: string; keyPem: string; clientCaPems: string[] };
  clientCertHeader?: string;
  trustedProxies?: string[];
  ready: () => Promise<void>;
  logger?: FastifyBaseLogger;
  /** Extra discovery members (the AS's metadata). */
  discoveryExtra?: () => Record<string, unknown>;
  maxBodyBytes?: number;
  /** Accepts the bank's AS access tokens on the management endpoints (as-tokens.ts); unset: registration access token only. */
  asTokens?: AsTokenVerifier | null;
  /** The directory's verdict on every authenticated call (platform/revocation/credential-check.ts); unset: none. */
  directoryVerdicts?: DirectoryVerdicts | null;
  /** Per-TPP rate limit and load shedding (plugins/protection.ts); unset: neither. */
  protection?: ProtectionOptions;
  /** Slow-client bounds (`DCR_HEADERS_TIMEOUT_MS`, `DCR_REQUEST_TIMEOUT_MS`); default 10 s / 30 s. */
  timeouts?: ServerTimeouts;
}

type SecurityScheme = NonNullable<NonNullable<NonNullable<FastifyDynamicSwaggerOptions['openapi']>['components']>['securitySchemes']>[string];
/** OpenAPI 3.1 `mutualTLS` security scheme (the bundled OpenAPI types only know the 3.0 ones). */
const MUTUAL_TLS_SCHEME = {
  type: 'mutualTLS',
  description: 'A client certificate chained to a CA the bank trusts',
} as unknown as SecurityScheme;

/**
 * The intake service as a Fastify instance over HTTPS with mutual TLS. The handshake asks for a
 * client certificate but does not abort without one, so a request without a certificate gets a
 * clear 401 JSON answer instead of a TLS alert, and health checks need none.
 */
export async function buildIntakeApp(options: IntakeAppOptions): Promise<FastifyInstance> {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const timeouts = serverTimeoutOptions(options.timeouts ?? DEFAULT_SERVER_TIMEOUTS);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    ...debugRequestLogging(),
    https: {
      key: options.tls.keyPem,
      cert: options.tls.certPem,
      ca: options.tls.clientCaPems,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ciphers: [...TLS13_CIPHERS, ...FAPI_TLS12_CIPHERS].join(':'),
      honorCipherOrder: true,
      // Slow-loris bounds: the TLS handshake within 10 s, then the request headers within
      // `timeouts.headersMs` and the whole request within `timeouts.requestMs`, checked often enough
      // (connectionsCheckingInterval) for a slow client to be closed close to its bound.
      handshakeTimeout: 10_000,
      headersTimeout: timeouts.headersTimeout,
      connectionsCheckingInterval: timeouts.connectionsCheckingInterval,
    },
    bodyLimit: maxBodyBytes,
    connectionTimeout: 30_000,
    requestTimeout: timeouts.requestTimeout,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Router and HTTP-parser errors answer JSON {error, error_description} like every other error.
    frameworkErrors,
    clientErrorHandler,
  });

  // First: a span per request (no-op unless OTEL_* tracing is on), around every hook and route below.
  traceHttpRequests(app);
  app.removeAllContentTypeParsers();
  const asString = (_req: unknown, body: string, done: (err: Error | null, body?: string) => void) => done(null, body);
  app.addContentTypeParser(['application/jwt', 'application/jose'], { parseAs: 'string', bodyLimit: maxBodyBytes }, asString);
  // JSON bodies are kept as text: the registration is parsed strictly (duplicate members) downstream.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: maxBodyBytes }, asString);

  await app.register(errorsPlugin);
  app.decorate('managementTokens', options.asTokens ?? null);
  app.decorate('managementProfile', options.profile);
  app.decorate('directoryVerdicts', options.directoryVerdicts ?? null);
  // Before the routes: it collects their schemas as they are added (OpenAPI 3.1, served below).
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'DCR pipeline: dynamic client registration',
        version: '1',
        description:
          'RFC 7591 registration and RFC 7592 management over mutual TLS (OBIE DCR 3.x and other profiles). ' +
          `Profile: ${options.profile.name} (${options.profile.title}; sources: ${options.profile.sources.join(', ')}). Every error is JSON {error, error_description}.`,
      },
      servers: [{ url: options.publicUrl }],
      components: {
        securitySchemes: {
          mutualTls: MUTUAL_TLS_SCHEME,
          registrationAccessToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The registration access token returned at registration (RFC 7592 §3)',
          },
        },
      },
    },
    // Documents the raw request body of the routes that declare `consumes` (not validated by Fastify).
    transform: ({ schema, url }) => ({
      schema: schema && 'consumes' in schema && schema.body === undefined ? { ...schema, body: RegistrationRequestBody } : schema,
      url,
    }),
  });
  await app.register(clientCertificatePlugin, {
    clientCas: options.tls.clientCaPems,
    bindingRules: options.profile.certificateBinding,
    ...(options.clientCertHeader ? { header: options.clientCertHeader } : {}),
    trustedProxies: options.trustedProxies ?? [],
  });
  // After the certificate plugin: the rate limit keys on the TPP identity.
  if (options.protection) await app.register(protectionPlugin, options.protection);
  await app.register(healthRoutes, { ready: options.ready });
  await app.register(discoveryRoute, {
    profile: options.profile,
    publicUrl: options.publicUrl,
    ...(options.discoveryExtra ? { extra: options.discoveryExtra } : {}),
  });
  await app.register(registerPostRoute, { deps: options.deps, profile: options.profile, syncWaitMs: options.syncWaitMs, maxBodyBytes });
  await app.register(requestStatusRoute, { deps: options.deps });
  await app.register(clientGetRoute, { deps: options.deps });
  await app.register(clientPutRoute, { deps: options.deps, profile: options.profile, syncWaitMs: options.syncWaitMs, maxBodyBytes });
  await app.register(clientDeleteRoute, { deps: options.deps });
  // The OpenAPI document of the routes above; no client certificate needed.
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()));
  return app;
}
