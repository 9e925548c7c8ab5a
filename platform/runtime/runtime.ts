import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { TokenSealer } from '../crypto/token-sealer.js';
import { OutboundFetcher } from '../http/outbound-fetcher.js';
import { KeyResolver } from '../jose/key-resolver.js';
import { PipelineMetrics } from '../observability/metrics.js';
import { startTracing, type Tracing } from '../observability/tracing.js';
import { JobDispatcher } from '../../core/outbox/job-dispatcher.js';
import { OutboxRelay } from '../../core/outbox/relay.js';
import { DeleteSweep } from '../../core/pipeline/delete-sweep.js';
import { Reconciler } from '../../core/pipeline/reconciler.js';
import { RetentionPurger } from '../../core/retention/purger.js';
import { getProfile, type Profile } from '../../core/profiles/index.js';
import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import { openAdapters, type Adapters } from './adapters.js';
import { openAuthorizationServer, type SandboxAuthorizationServerFactory } from './authorization-server.js';
import { securePrivateDataDir } from './data-dir.js';
import { createLogger, type Logger } from './logger.js';
import type { Trust } from './trust.js';

/** Everything a service needs, built once from the validated configuration (no hidden globals). */
export interface Runtime {
  service: string;
  /** This process: `service@host:pid` (stage history entries name it). */
  instance: string;
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
  /** The retention purger, run beside the relay (one active at a time: the store lease). */
  retention: RetentionPurger | null;
  /** Wakes the in-process relay, if any, after a commit with events. */
  kickRelay(): void;
  /** Re-queues requests stranded without a job, under the relay's lease (with the relay only). */
  reconciler: Reconciler | null;
  /** Finishes RFC 7592 deletes left half-done, at the reconciler's interval and under the same lease. */
  deleteSweep: DeleteSweep | null;
  /** This runtime's Prometheus metrics (a registry of its own). */
  metrics: PipelineMetrics;
  /** OpenTelemetry tracing of this process, when configured (OTEL_* variables); null when off. */
  tracing: Tracing | null;
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
  const logger = options.logger ?? createLogger(service, config.logLevel, config.logFormat ?? 'json');
  securePrivateDataDir(config.dataDir);
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
  const tracing = await startTracing(config.tracing, service, logger).catch(async (error: unknown) => {
    await adapters.close();
    throw error;
  });
  const metrics = new PipelineMetrics({ store: adapters.store, queue: adapters.queue }, { service });
  const instance = `${service}@${hostname()}:${process.pid}`;
  // The relay / reconciler lease names the process holding it (operators, the chaos run's leader samples).
  const owner = `${instance}#${randomUUID()}`;
  const relay = options.relay
    ? new OutboxRelay(adapters.store, adapters.bus, adapters.queue, {
        owner,
        intervalMs: config.relayIntervalMs,
        onError: (err) => {
          metrics.relayErrors.inc();
          logger.warn({ err }, 'outbox relay pass failed; retrying');
        },
        onPublished: (count) => metrics.relayed.inc(count),
      })
    : null;
  let as: Promise<AuthorizationServerPort> | undefined;
  const authorizationServer = (): Promise<AuthorizationServerPort> => {
    as ??= openAuthorizationServer(
      { config, fetcher, logger, store: adapters.store, bus: adapters.bus },
      options.sandboxAuthorizationServer ? { sandbox: options.sandboxAuthorizationServer } : {},
    );
    return as;
  };
  const reconciler = options.relay ? new Reconciler(adapters.store, adapters.queue, logger, { owner, afterMs: config.reconcile.afterMs }) : null;
  const deleteSweep = options.relay
    ? new DeleteSweep(adapters.store, authorizationServer, logger, {
        owner,
        afterMs: config.reconcile.afterMs,
        onFinished: (count) => {
          metrics.deletesFinished.inc(count);
          if (adapters.store.outboxDelivery !== 'committed') relay?.kick();
        },
      })
    : null;
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeps =
    reconciler && deleteSweep && config.reconcile.intervalMs > 0
      ? setInterval(() => {
          sweeping = Promise.all([
            reconciler.sweepOnce().catch((err: unknown) => logger.warn({ err }, 'reconciler sweep failed; next one later')),
            deleteSweep.sweepOnce().catch((err: unknown) => logger.warn({ err }, 'delete sweep failed; next one later')),
          ]);
        }, config.reconcile.intervalMs)
      : undefined;
  sweeps?.unref();
  const retention = options.relay
    ? new RetentionPurger(
        adapters.store,
        {
          rejectedSeconds: config.retention.rejectedSeconds,
          resultTtlSeconds: config.resultTtlSeconds,
          auditSeconds: config.retention.auditSeconds,
          intervalMs: config.retention.purgeIntervalSeconds * 1000,
        },
        {
          owner: `${service}-${randomUUID()}`,
          onPurged: (report) => logger.info({ retention: report }, 'retention pass purged expired requests'),
          onError: (err) => logger.warn({ err }, 'retention pass failed; retrying at the next interval'),
        },
      )
    : null;
  const runtime: Runtime = {
    service,
    instance,
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
    retention,
    // A committing store (Store.outboxDelivery) leaves the relay nothing to hand over after a commit.
    kickRelay: adapters.store.outboxDelivery === 'committed' ? () => {} : () => relay?.kick(),
    reconciler,
    deleteSweep,
    metrics,
    tracing,
    authorizationServer,
    close: async () => {
      clearInterval(sweeps);
      await sweeping;
      await retention?.stop();
      await relay?.stop();
      if (as) await (await as.catch(() => null))?.close();
      fetcher.close();
      await adapters.close();
      // Last: the spans of the work that just finished are exported before the process ends.
      await tracing?.shutdown();
    },
  };
  relay?.start();
  retention?.start();
  return runtime;
}
