/**
 * The pieces every in-process pipeline (test/support/pipeline.ts, bench/pipeline.ts, tests that
 * need their own logger) builds the same way: its sandbox-mode environment and its services (the
 * verifier, revocation and provisioner stages and the intake) on one runtime.
 */
import type { Runtime } from '../platform/runtime/runtime.js';
import { startIntake, type RunningIntake } from '../services/intake/service.js';
import { startProvisioner } from '../services/provisioner/service.js';
import { startRevocation } from '../services/revocation/service.js';
import { startVerifier } from '../services/verifier/service.js';

/**
 * The environment of a pipeline in this process in sandbox mode: data in `dataDir`, the sandbox
 * directory on `sandboxPort`, the intake on a free port answering as https://localhost:8443, and
 * (with `infra`) MongoDB + BullMQ + Kafka under `namespace`; otherwise the embedded adapters.
 * Callers add what their run sets (log level, limits…).
 */
export function inProcessPipelineEnv(options: {
  dataDir: string;
  sandboxPort: number;
  syncWaitMs?: number;
  namespace?: string;
  infra?: { mongoUrl: string; redisUrl: string; kafkaBrokers: string } | null | undefined;
}): Record<string, string> {
  const { dataDir, sandboxPort, namespace, infra } = options;
  return {
    DCR_DATA_DIR: dataDir,
    DCR_HTTPS_PORT: '0',
    DCR_SANDBOX: '1',
    DCR_SANDBOX_PORT: String(sandboxPort),
    DCR_PUBLIC_URL: 'https://localhost:8443',
    DCR_AUDIENCE: 'https://localhost:8443',
    DCR_SYNC_WAIT_MS: String(options.syncWaitMs ?? 10_000),
    ...(namespace !== undefined ? { DCR_NAMESPACE: namespace } : {}),
    ...(infra ? { DCR_MONGO_URL: `${infra.mongoUrl.replace(/\/$/, '')}/dcr_${namespace ?? ''}`, DCR_REDIS_URL: infra.redisUrl, DCR_KAFKA_BROKERS: infra.kafkaBrokers } : {}),
  };
}

export interface PipelineServices {
  intake: RunningIntake;
  /** Stops the intake, then the stages. */
  stop(): Promise<void>;
}

/** Starts the stages (unless `stages: false`) and the intake on `rt`. */
export async function startPipelineServices(rt: Runtime, options: { stages?: boolean } = {}): Promise<PipelineServices> {
  const stages = options.stages === false ? [] : [await startVerifier(rt), startRevocation(rt), await startProvisioner(rt)];
  const intake = await startIntake(rt);
  return {
    intake,
    async stop() {
      await intake.stop();
      await Promise.all(stages.map((s) => s.stop()));
    },
  };
}
