import type { Runtime } from '../../shared/runtime/runtime.js';
import { stageRunnerDeps } from '../../shared/runtime/stage-deps.js';
import { StageRunner } from '../../shared/pipeline/stage-runner.js';
import { RevocationStage } from './stage.js';

export function startRevocation(rt: Runtime): { stop(): Promise<void> } {
  const stage = new RevocationStage({ profile: rt.profile, fetcher: rt.fetcher });
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(rt.config.workerConcurrency);
  return { stop: () => consumer.close() };
}
