/**
 * The pipeline under test, in embedded mode: the verifier, revocation and provisioner stages, the
 * outbox relay and the intake, all in this process on SQLite (WAL, synchronous=FULL) in a temporary
 * DCR_DATA_DIR — what `npm start` runs, minus the ops service. The sandbox directory (SSA keys,
 * software JWKS, CRL, OCSP, status API) runs as its own process, as a real directory is elsewhere:
 * its CPU is not charged to ours (it is sampled and reported separately).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../platform/config/load.js';
import { createRuntime, type Runtime } from '../platform/runtime/runtime.js';
import { createLogger } from '../platform/runtime/logger.js';
import { sandboxTrust, type SandboxDirectory } from '../sandbox/directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../sandbox/sandbox-as/provisioning.js';
import { inProcessPipelineEnv, startPipelineServices } from '../testkit/in-process-pipeline.js';
import type { IntakeTls } from './bound-server.js';
import { startService, stopServices, untilHttpsOk, type ServiceProcess } from './processes.js';
import { freeTcpPort } from '../testkit/ports.js';

export interface EmbeddedPipeline {
  rt: Runtime;
  origin: string;
  audience: string;
  directory: SandboxDirectory;
  tls: IntakeTls;
  dataDir: string;
  directoryProcess: ServiceProcess;
  stop(): Promise<void>;
}

export interface EmbeddedPipelineOptions {
  /**
   * The sandbox directory's `Cache-Control` on its JWKS answers (default `max-age=60`): `no-store`
   * makes every registration fetch the directory JWKS, the software JWKS and the revoked JWKS.
   */
  jwksCacheControl?: string;
}

export async function startEmbeddedPipeline(extraEnv: Record<string, string> = {}, options: EmbeddedPipelineOptions = {}): Promise<EmbeddedPipeline> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dcr-bench-'));
  const sandboxPort = await freeTcpPort();
  const env: Record<string, string> = {
    ...inProcessPipelineEnv({ dataDir, sandboxPort }),
    DCR_LOG_LEVEL: 'silent',
    // 20 TPPs carry the whole load: the per-TPP rate limit (600/min by default) is not what is measured here.
    DCR_RATE_LIMIT_PER_MINUTE: '0',
    // Load shedding would turn saturation into 503s; the benchmark measures capacity instead.
    DCR_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...extraEnv,
  };
  const config = loadConfig(env, { sandboxByDefault: true });
  // Created here (CA, keys, intake certificate), then served by its own process from the same data dir.
  const { trust, directory } = await sandboxTrust(config);
  const sandbox = startService('directory-sandbox', {
    DCR_DATA_DIR: dataDir,
    DCR_SANDBOX_PORT: String(sandboxPort),
    DCR_SANDBOX_BASE_URL: config.sandboxUrl,
    ...(options.jwksCacheControl ? { DCR_SANDBOX_JWKS_CACHE_CONTROL: options.jwksCacheControl } : {}),
  });
  await untilHttpsOk('sandbox directory', directory.directoryJwksUrl, directory.caCertPem, 30_000, sandbox.tail);
  const rt = await createRuntime(config, trust, 'bench', { relay: true, logger: createLogger('bench', 'silent'), sandboxAuthorizationServer });
  const services = await startPipelineServices(rt);
  const { intake } = services;
  if (!trust.server) throw new Error('no server certificate');
  return {
    rt,
    origin: `https://localhost:${intake.port}`,
    audience: config.audiences[0] ?? 'https://localhost:8443',
    directory,
    tls: { certPem: trust.server.certPem, keyPem: trust.server.keyPem, clientCaPems: trust.clientCaPems },
    dataDir,
    directoryProcess: sandbox,
    async stop() {
      await services.stop();
      await rt.close();
      await stopServices([sandbox]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
