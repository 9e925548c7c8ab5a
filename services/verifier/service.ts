import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import { BoundedMemo } from '../../platform/util/bounded-memo.js';
import type { RegisteredCustomValidator } from './metadata/custom-validator.js';
import { VerificationStage } from './stage.js';
import { loadCustomValidators, readValidatorsFile } from './validators.js';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts the verification stage once the custom validators (`DCR_VALIDATORS_FILE`) are loaded; a
 * bad file or module rejects with a ConfigurationError naming it, which stops start-up.
 */
export async function startVerifier(rt: Runtime): Promise<Stoppable> {
  const { config } = rt;
  const file = config.validatorsFile;
  const validators: readonly RegisteredCustomValidator[] = file ? await loadCustomValidators(readValidatorsFile(file), file) : [];
  if (file) rt.logger.info({ validators: validators.map((v) => v.validator.name) }, 'custom validators loaded');

  const stage = new VerificationStage(
    {
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
      customValidators: async () => validators,
      clientMetadata: async (clientId) => (await rt.adapters.store.getClient(clientId))?.metadata ?? null,
      subjects: new BoundedMemo(4096),
      publicKeys: new BoundedMemo(4096),
    },
    rt.adapters.store,
  );
  const consumer = new StageRunner(stage, stageRunnerDeps(rt)).start(config.workerConcurrency);
  return { stop: () => consumer.close() };
}

/** The service as a process: services/verifier/main.ts (production), sandbox/service/main.ts (sandbox). */
export const verifierService: ServiceDefinition = { name: 'verifier', start: startVerifier };
