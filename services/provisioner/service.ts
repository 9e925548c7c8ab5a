import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import { ProvisioningStage } from './stage.js';

/** The provisioner; its process also runs the outbox relay (create the runtime with `relay: true`). */
export async function startProvisioner(rt: Runtime): Promise<{ stop(): Promise<void> }> {
  const stage = new ProvisioningStage({
    profile: rt.profile,
    store: rt.adapters.store,
    sealer: rt.sealer,
    publicUrl: rt.config.publicUrl,
    rotateTokenOnUpdate: rt.config.rotateRegistrationToken,
    as: await rt.authorizationServer(),
    // One attempt waits at most this long for an `events` barrier; then it is retried with backoff.
    applyWaitMs: Math.max(1000, rt.config.syncWaitMs),
    onCommitted: () => rt.kickRelay(),
  });
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(rt.config.workerConcurrency);
  return { stop: () => consumer.close() };
}

/** The service as a process: services/provisioner/main.ts (production), sandbox/service/main.ts (sandbox). */
export const provisionerService: ServiceDefinition = { name: 'provisioner', relay: true, start: startProvisioner };
