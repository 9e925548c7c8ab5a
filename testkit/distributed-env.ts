import type { Infra } from './servers.js';

/**
 * The environment of the distributed pipeline's service processes (sandbox mode) on the servers of
 * `infra`, under a namespace of their own: MongoDB database `dcr_<namespace>`, BullMQ keys and Kafka
 * topics prefixed by it. Callers add what their run sets (timeouts, limits, admin port…).
 */
export function distributedServiceEnv(options: {
  dataDir: string;
  namespace: string;
  sandboxPort: number;
  intakePort: number;
  infra: Pick<Infra, 'mongoUrl' | 'redisUrl' | 'kafkaBrokers'>;
}): Record<string, string> {
  const { dataDir, namespace, sandboxPort, intakePort, infra } = options;
  return {
    DCR_DATA_DIR: dataDir,
    DCR_SANDBOX: '1',
    DCR_SANDBOX_PORT: String(sandboxPort),
    DCR_SANDBOX_BASE_URL: `https://localhost:${sandboxPort}`,
    DCR_HTTPS_PORT: String(intakePort),
    DCR_PUBLIC_URL: `https://localhost:${intakePort}`,
    DCR_AUDIENCE: `https://localhost:${intakePort}`,
    DCR_MONGO_URL: `${(infra.mongoUrl ?? '').replace(/\/$/, '')}/dcr_${namespace}`,
    DCR_REDIS_URL: infra.redisUrl ?? '',
    DCR_KAFKA_BROKERS: infra.kafkaBrokers ?? '',
    DCR_NAMESPACE: namespace,
  };
}
