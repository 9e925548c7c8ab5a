import type { FastifyInstance } from 'fastify';
import { ConfigurationError } from '../../shared/domain/errors.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { buildIntakeApp } from './app.js';

export interface RunningIntake {
  app: FastifyInstance;
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startIntake(rt: Runtime, options: { listen?: boolean } = {}): Promise<RunningIntake> {
  const { config, trust } = rt;
  if (!trust.server) throw new ConfigurationError('DCR_TLS_CERT_FILE', 'the intake needs a server certificate and key (DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE)');
  if (trust.clientCaPems.length === 0) throw new ConfigurationError('DCR_CLIENT_CA_FILE', 'the intake needs the CAs of accepted client certificates');
  const app = await buildIntakeApp({
    deps: { store: rt.adapters.store, dispatcher: rt.dispatcher, signal: rt.adapters.signal, sealer: rt.sealer, onCommitted: () => rt.kickRelay() },
    profile: rt.profile,
    publicUrl: config.publicUrl,
    syncWaitMs: config.syncWaitMs,
    tls: { certPem: trust.server.certPem, keyPem: trust.server.keyPem, clientCaPems: trust.clientCaPems },
    ...(config.clientCertHeader ? { clientCertHeader: config.clientCertHeader } : {}),
    trustedProxies: config.trustedProxies,
    ready: () => rt.adapters.store.ping(),
    logger: rt.logger,
  });
  if (options.listen === false) return { app, url: '', port: 0, stop: () => app.close() };
  await app.listen({ host: config.host, port: config.httpsPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpsPort;
  return { app, url: `https://${config.host}:${port}`, port, stop: () => app.close() };
}
