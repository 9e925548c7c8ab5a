import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { TokenSealer } from '../crypto/token-sealer.js';
import { OutboundFetcher } from '../http/outbound-fetcher.js';
import { KeyResolver } from '../jose/key-resolver.js';
import { PipelineMetrics } from '../observability/metrics.js';
import { JobDispatcher, OutboxRelay } from '../outbox/dispatcher.js';
import { getProfile, type Profile } from '../profiles/index.js';
import type { AuthorizationServerPort } from '../ports/authorization-server.js';
import { openAdapters, type Adapters } from './adapters.js';
import { openAuthorizationServer, type SandboxAuthorizationServerFactory } from './authorization-server.js';
import { createLogger, type Logger } from './logger.js';
import type { Trust } from './trust.js';

/** Everything a service needs, built once from the validated configuration (no hidden globals). */
export interface Runtime {
  service: string;
  config: Config;
  profile: Profile;
  trust: Trust;
  adapters: Adapters;
  logger: Logger;
  dispatcher: JobDispatcher;
  sealer: TokenSealer;
  fetcher: OutboundFetcher;
  keys: KeyResolver;
  /** The outbox relay, when this process runs one (provisioner, standalone). */
  relay: OutboxRelay | null;
  /** Wakes the in-process relay, if any, after a commit with events. */
  kickRelay(): void;
  /** This runtime's Prometheus metrics (a registry of its own). */
  metrics: PipelineMetrics;
  /** The bank's authorization server (`DCR_AS_PROVISIONING`), opened on first use (provisioner, intake). */
  authorizationServer(): Promise<AuthorizationServerPort>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  relay?: boolean;
  logger?: Logger;
  /** The sandbox AS's provisioning adapter (`DCR_AS_PROVISIONING=sandbox`), handed in by sandbox entry points. */
  sandboxAuthorizationServer?: SandboxAuthorizationServerFactory;
}

export async function createRuntime(config: Config, trust: Trust, service: string, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(service, config.logLevel);
  const adapters = await openAdapters(config, service, logger);
  const fetcher = new OutboundFetcher({
    allowedHosts: trust.allowedFetchHosts,
    ca: trust.outboundCaPems,
    connectTimeoutMs: config.fetch.connectTimeoutMs,
    totalTimeoutMs: config.fetch.totalTimeoutMs,
    maxBytes: config.fetch.maxBytes,
    allowFileUrls: trust.directoryJwksUrl.startsWith('file:'),
  });
  if (options.relay) await adapters.bus.ensureTopics();
  const metrics = new PipelineMetrics({ store: adapters.store, queue: adapters.queue }, { service });
  const relay = options.relay
    ? new OutboxRelay(adapters.store, adapters.bus, adapters.queue, {
        owner: `${service}-${randomUUID()}`,
        intervalMs: config.relayIntervalMs,
        onError: (err) => {
          metrics.relayErrors.inc();
          logger.warn({ err }, 'outbox relay pass failed; retrying');
        },
        onPublished: (count) => metrics.relayed.inc(count),
      })
    : null;
  let as: Promise<AuthorizationServerPort> | undefined;
  const runtime: Runtime = {
    service,
    config,
    profile: getProfile(config.profile),
    trust,
    adapters,
    logger,
    dispatcher: new JobDispatcher(adapters.store, adapters.queue, logger),
    sealer: TokenSealer.load(config.tokenSealingKey, config.dataDir),
    fetcher,
    keys: new KeyResolver(fetcher, { maxAgeSeconds: config.fetch.cacheMaxAgeSeconds }),
    relay,
    kickRelay: () => relay?.kick(),
    metrics,
    authorizationServer: () => {
      as ??= openAuthorizationServer(
        { config, fetcher, logger, store: adapters.store, bus: adapters.bus },
        options.sandboxAuthorizationServer ? { sandbox: options.sandboxAuthorizationServer } : {},
      );
      return as;
    },
    close: async () => {
      await relay?.stop();
      if (as) await (await as.catch(() => null))?.close();
      await adapters.close();
    },
  };
  relay?.start();
  return runtime;
}
