import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import type { FastifyInstance } from 'fastify';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { openRateLimitStore } from '../../platform/runtime/service-stores.js';
import { buildIntakeApp } from './app.js';
import { CredentialCheck } from '../../platform/revocation/credential-check.js';
import { asDiscoveryExtra, createAsTokenVerifier } from './as-tokens.js';

export interface RunningIntake {
  app: FastifyInstance;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * `discoveryExtra`: members merged into discovery (the sandbox AS's `token_endpoint` …); unset and
 * `DCR_AS_ISSUER` set: read from the AS's own discovery document, in the background.
 */
export async function startIntake(rt: Runtime, options: { listen?: boolean; discoveryExtra?: () => Record<string, unknown> } = {}): Promise<RunningIntake> {
  const { config, trust } = rt;
  if (!trust.server) throw new ConfigurationError('DCR_TLS_CERT_FILE', 'the intake needs a server certificate and key (DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE)');
  if (trust.clientCaPems.length === 0) throw new ConfigurationError('DCR_CLIENT_CA_FILE', 'the intake needs the CAs of accepted client certificates');
  // The revocation stage's checks on every authenticated call, sharing its cache (Redis when distributed).
  const directoryVerdicts = config.revocation.checks.length > 0 ? new CredentialCheck(rt) : null;
  const authorizationServer = await rt.authorizationServer();
  const app = await buildIntakeApp({
    deps: {
      store: rt.adapters.store,
      dispatcher: rt.dispatcher,
      signal: rt.adapters.signal,
      sealer: rt.sealer,
      onCommitted: () => rt.kickRelay(),
      resultTtlSeconds: config.resultTtlSeconds,
      authorizationServer,
      deleteWaitMs: config.syncWaitMs,
      maxInFlightPerTpp: config.retention.maxInFlightPerTpp,
    },
    profile: rt.profile,
    publicUrl: config.publicUrl,
    syncWaitMs: config.syncWaitMs,
    tls: { certPem: trust.server.certPem, keyPem: trust.server.keyPem, clientCaPems: trust.clientCaPems },
    ...(config.clientCertHeader ? { clientCertHeader: config.clientCertHeader } : {}),
    trustedProxies: config.trustedProxies,
    ready: () => rt.adapters.store.ping(),
    logger: rt.logger,
    asTokens: createAsTokenVerifier(rt),
    directoryVerdicts,
    ...(options.discoveryExtra ? { discoveryExtra: options.discoveryExtra } : config.as.issuer ? { discoveryExtra: asDiscoveryExtra(rt) } : {}),
    timeouts: config.httpTimeouts,
    protection: {
      rateLimitPerMinute: config.protection.rateLimitPerMinute,
      maxEventLoopDelayMs: config.protection.maxEventLoopDelayMs,
      maxHeapUsedBytes: config.protection.maxHeapUsedBytes,
      ...(config.protection.rateLimitPerMinute > 0 ? { rateLimitStore: await openRateLimitStore(config, rt.logger) } : {}),
    },
  });
  if (directoryVerdicts) app.addHook('onClose', () => directoryVerdicts.close());
  if (options.listen === false) return { app, url: '', port: 0, stop: () => app.close() };
  await app.listen({ host: config.host, port: config.httpsPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpsPort;
  return { app, url: `https://${config.host}:${port}`, port, stop: () => app.close() };
}

/** The service as a process: services/intake/main.ts (production), sandbox/service/main.ts (sandbox). */
export const intakeService: ServiceDefinition = {
  name: 'intake',
  async start(rt) {
    const intake = await startIntake(rt);
    rt.logger.info({ url: intake.url }, 'intake listening (mutual TLS)');
    return intake;
  },
};
