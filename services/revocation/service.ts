import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import type { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import type { RevocationCache } from '../../core/ports/revocation-cache.js';
import { TrustAnchors } from '../../platform/pki/revocation-evidence.js';
import { revocationCache } from '../../platform/revocation/cache.js';
import { RevocationStage } from './stage.js';

export interface RevocationOptions {
  /** Defaults to `rt.fetcher` (tests wrap it to count or fail requests). */
  fetcher?: OutboundFetcher;
  /** Defaults to Redis in the distributed mode, in-process otherwise. */
  cache?: RevocationCache;
  clock?: () => Date;
  /** Cap of every cache lifetime; defaults to `config.fetch.cacheMaxAgeSeconds` (0 disables caching). */
  maxAgeSeconds?: number;
}

export function startRevocation(rt: Runtime, options: RevocationOptions = {}): { stop(): Promise<void> } {
  const cache = options.cache ?? revocationCache(rt, options.clock);
  const stage = new RevocationStage({
    fetcher: options.fetcher ?? rt.fetcher,
    policy: rt.config.revocation,
    anchors: new TrustAnchors(rt.trust.clientCaPems),
    cache,
    maxAgeSeconds: options.maxAgeSeconds ?? rt.config.fetch.cacheMaxAgeSeconds,
    leewaySeconds: rt.config.leewaySeconds,
    store: rt.adapters.store,
    logger: rt.logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(rt.config.workerConcurrency);
  return {
    stop: async () => {
      await consumer.close();
      if (!options.cache) await cache.close();
    },
  };
}

/** The service as a process: services/revocation/main.ts (production), sandbox/service/main.ts (sandbox). */
export const revocationService: ServiceDefinition = { name: 'revocation', start: (rt) => startRevocation(rt) };
