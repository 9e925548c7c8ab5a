import type { Runtime } from '../../shared/runtime/runtime.js';
import { stageRunnerDeps } from '../../shared/runtime/stage-deps.js';
import { StageRunner } from '../../shared/pipeline/stage-runner.js';
import { ProvisioningStage } from './stage.js';

/** The provisioner; its process also runs the outbox relay (create the runtime with `relay: true`). */
export function startProvisioner(rt: Runtime): { stop(): Promise<void> } {
  const stage = new ProvisioningStage({ profile: rt.profile, store: rt.adapters.store, sealer: rt.sealer, publicUrl: rt.config.publicUrl, rotateTokenOnUpdate: rt.config.rotateRegistrationToken });
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(rt.config.workerConcurrency);
  return { stop: () => consumer.close() };
}
