import type { Runtime } from '../../shared/runtime/runtime.js';
import { stageRunnerDeps } from '../../shared/runtime/stage-deps.js';
import { StageRunner } from '../../shared/pipeline/stage-runner.js';
import type { RegisteredCustomValidator } from './metadata/custom-validator.js';
import { VerificationStage } from './stage.js';
import { loadCustomValidators, readValidatorsFile } from './validators.js';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * A running verifier. It is also awaitable: `await startVerifier(rt)` settles once the custom
 * validators (`DCR_VALIDATORS_FILE`) are loaded, and rejects with their ConfigurationError, so
 * `runService` stops start-up on a bad validator module. Callers that only keep the handle get the
 * same error logged; the stage then fails each registration as retryable (never a 500 to the TPP).
 */
export interface RunningVerifier extends Stoppable, PromiseLike<Stoppable> {}

/**
 * Starts the verification stage. The validators file is read and checked synchronously (a bad
 * file throws here); the modules it names are imported asynchronously.
 */
export function startVerifier(rt: Runtime): RunningVerifier {
  const { config } = rt;
  const file = config.validatorsFile;
  const entries = file ? readValidatorsFile(file) : [];
  const loading: Promise<readonly RegisteredCustomValidator[]> = file ? loadCustomValidators(entries, file) : Promise.resolve([]);
  loading.then(
    (validators) => {
      if (file) rt.logger.info({ validators: validators.map((v) => v.validator.name) }, 'custom validators loaded');
    },
    (error: unknown) => rt.logger.fatal({ err: error }, 'custom validators could not be loaded; registrations will fail until this is fixed'),
  );

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
    customValidators: () => loading,
    clientMetadata: async (clientId) => (await rt.adapters.store.getClient(clientId))?.metadata ?? null,
  }, rt.adapters.store);
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(config.workerConcurrency);
  const stop = () => consumer.close();
  return {
    stop,
    then: (onFulfilled, onRejected) => loading.then(() => ({ stop }) satisfies Stoppable).then(onFulfilled, onRejected),
  };
}
