import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../platform/config/load.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import { TOPICS, type TopicName } from '../../core/domain/events.js';
import { createRuntime, type Runtime } from '../../platform/runtime/runtime.js';
import { createLogger } from '../../platform/runtime/logger.js';
import { httpsRequest, type HttpResponse, type MtlsIdentity } from '../../sandbox/tpp-client/https-client.js';
import { defaultRegistrationClaims, signRegistrationRequest, type TppCredentials } from '../../sandbox/tpp-client/registration-request.js';
import { sandboxCredentials, sandboxTrust, startSandboxDirectoryServer, SANDBOX_FILES, type SandboxDirectory, type SandboxServer, type SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../../sandbox/sandbox-as/provisioning.js';
import { inProcessPipelineEnv, startPipelineServices } from '../../testkit/in-process-pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

export type InfraUrls = { mongoUrl: string; redisUrl: string; kafkaBrokers: string } | null;

export interface TestPipeline {
  rt: Runtime;
  intakeUrl: string;
  directory: SandboxDirectory;
  dataDir: string;
  env: Record<string, string>;
  createTpp(name?: string, options?: Parameters<SandboxDirectory['createTpp']>[1]): Promise<TestTpp>;
  /** Events seen on the bus since start (a consumer group of its own). */
  events: DeliveredEvent[];
  waitForEvent(predicate: (e: DeliveredEvent) => boolean, timeoutMs?: number): Promise<DeliveredEvent>;
  stop(): Promise<void>;
}

export interface TestTpp {
  sandbox: SandboxTpp;
  credentials: TppCredentials;
  identity: MtlsIdentity;
  claims(overrides?: Record<string, unknown>): Record<string, unknown>;
  sign(claims: Record<string, unknown>): Promise<string>;
  post(body: string, headers?: Record<string, string>): Promise<HttpResponse>;
  get(path: string): Promise<HttpResponse>;
}

/**
 * The whole pipeline in this process for a test: sandbox directory on loopback HTTPS, every stage,
 * the intake on a free port, on the embedded adapters or (with `infra`) MongoDB + BullMQ + Kafka
 * under a namespace of its own.
 *
 * `directoryCa`: the sandbox directory adopts this CA (certificate and key files) instead of making
 * one, so a server that trusts it (the run's Keycloak) accepts the TPPs' transport certificates, and
 * the pipeline's outbound fetcher trusts that server's certificate.
 */
export async function startTestPipeline(
  options: { infra?: InfraUrls; env?: Record<string, string>; stages?: boolean; directoryCa?: { certFile: string; keyFile: string } } = {},
): Promise<TestPipeline> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dcr-test-'));
  if (options.directoryCa) {
    const sandboxDir = join(dataDir, 'sandbox');
    await mkdir(sandboxDir, { recursive: true, mode: 0o700 });
    await copyFile(options.directoryCa.keyFile, join(sandboxDir, SANDBOX_FILES.caKey));
    await copyFile(options.directoryCa.certFile, join(sandboxDir, SANDBOX_FILES.caCert));
  }
  const sandboxPort = await freeTcpPort();
  const namespace = `t${randomBytes(5).toString('hex')}`;
  const env: Record<string, string> = {
    ...inProcessPipelineEnv({ dataDir, sandboxPort, namespace, infra: options.infra }),
    DCR_RETRY_BASE_DELAY_MS: '50',
    DCR_STAGE_ATTEMPTS: '3',
    DCR_LOG_LEVEL: 'silent',
    ...options.env,
  };
  const config = loadConfig(env, { sandboxByDefault: true });
  const { trust, directory } = await sandboxTrust(config);
  const sandbox: SandboxServer = await startSandboxDirectoryServer(directory, { host: '127.0.0.1', port: sandboxPort });
  const rt = await createRuntime(config, trust, 'test', { relay: true, logger: createLogger('test', 'silent'), sandboxAuthorizationServer });
  const services = await startPipelineServices(rt, { stages: options.stages !== false });
  const { intake } = services;
  const intakeUrl = `https://localhost:${intake.port}`;

  const events: DeliveredEvent[] = [];
  const listeners = new Set<() => void>();
  const subscription = await rt.adapters.bus.subscribe(
    { groupId: `test-observer-${namespace}`, topics: Object.values(TOPICS) as TopicName[], fromBeginning: true },
    async (event) => {
      events.push(event);
      for (const l of listeners) l();
    },
  );

  const pipeline: TestPipeline = {
    rt,
    intakeUrl,
    directory,
    dataDir,
    env,
    events,
    async createTpp(name = `tpp${randomBytes(3).toString('hex')}`, tppOptions) {
      const sandboxTpp = await directory.createTpp(name, tppOptions);
      const credentials: TppCredentials = sandboxCredentials(sandboxTpp);
      const identity: MtlsIdentity = { certPem: sandboxTpp.transportCertPem, keyPem: sandboxTpp.transportKeyPem, caPem: directory.caCertPem };
      return {
        sandbox: sandboxTpp,
        credentials,
        identity,
        claims: (overrides = {}) => ({ ...defaultRegistrationClaims(credentials, config.audiences[0] ?? ''), ...overrides }),
        sign: (claims) => signRegistrationRequest(credentials, claims),
        post: (body, headers = {}) =>
          httpsRequest(`${intakeUrl}/register`, { method: 'POST', body, identity, headers: { 'content-type': 'application/jwt', ...headers } }),
        get: (path) => httpsRequest(`${intakeUrl}${path}`, { identity }),
      };
    },
    waitForEvent(predicate, timeoutMs = 20_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms (seen: ${events.map((e) => e.type).join(', ')})`));
        }, timeoutMs);
        const check = () => {
          const e = events.find(predicate);
          if (e) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(e);
          }
        };
        listeners.add(check);
      });
    },
    async stop() {
      await services.stop();
      await subscription.close();
      await rt.close();
      await sandbox.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return pipeline;
}
