import type { Runtime } from '../../shared/runtime/runtime.js';
import { stageRunnerDeps } from '../../shared/runtime/stage-deps.js';
import { StageRunner } from '../../shared/pipeline/stage-runner.js';
import { VerificationStage } from './stage.js';

export function startVerifier(rt: Runtime): { stop(): Promise<void> } {
  const { config } = rt;
  const stage = new VerificationStage({
    profile: rt.profile,
    directoryJwksUrl: rt.trust.directoryJwksUrl,
    keys: rt.keys,
    policy: {
      audiences: config.audiences,
      ssaIssuers: config.ssaIssuers,
      leewaySeconds: config.leewaySeconds,
      ssaMaxAgeSeconds: config.ssaMaxAgeSeconds,
      maxRequestLifetimeSeconds: config.maxRequestLifetimeSeconds,
    },
    reserveJti: (key, requestId, expiresAt) => rt.adapters.store.reserveJti(key, requestId, expiresAt),
    now: () => Math.floor(Date.now() / 1000),
  });
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(config.workerConcurrency);
  return { stop: () => consumer.close() };
}
