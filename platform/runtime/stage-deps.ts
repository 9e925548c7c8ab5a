import type { StageRunnerDeps } from '../../core/pipeline/stage-runner.js';
import { isStoreWriteRefused } from '../http/dependency-errors.js';
import type { Runtime } from './runtime.js';

export function stageRunnerDeps(rt: Runtime): StageRunnerDeps {
  return {
    store: rt.adapters.store,
    queue: rt.adapters.queue,
    dispatcher: rt.dispatcher,
    signal: rt.adapters.signal,
    logger: rt.logger,
    onCommitted: () => rt.kickRelay(),
    storeRefused: isStoreWriteRefused,
    observe: (stage, outcome, seconds) => rt.metrics.observeStage(stage, outcome, seconds),
    worker: rt.instance,
  };
}
