import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { SandboxAuthorizationServerFactory } from './authorization-server.js';
import { createRuntime, type Runtime } from './runtime.js';
import { trustFromConfig, type Trust } from './trust.js';

export interface Stoppable {
  stop(): Promise<void>;
}

/** One service process: its name, whether it hosts the outbox relay, and how it starts on a runtime. */
export interface ServiceDefinition {
  readonly name: string;
  /** Runs the outbox relay in this process. */
  readonly relay?: boolean;
  start(rt: Runtime): Promise<Stoppable> | Stoppable;
}

/**
 * What only the sandbox entry points pass (sandbox/service/main.ts): production entry points pass
 * nothing, so their module graph holds no sandbox code and `DCR_SANDBOX=1` is refused there.
 */
export interface SandboxOptions {
  /** Trust for `DCR_SANDBOX=1` (the sandbox directory's CA and JWKS). */
  sandboxTrust: (config: Config) => Promise<{ trust: Trust }>;
  /** `DCR_AS_PROVISIONING=sandbox`: the sandbox AS's adapter (services that provision or delete clients). */
  sandboxAuthorizationServer: SandboxAuthorizationServerFactory;
}

/**
 * Runs one service as its own process: validated configuration (one clear line on error), trust,
 * adapters, the service, and a graceful shutdown on SIGTERM/SIGINT that finishes in-flight jobs.
 */
export async function runService(definition: ServiceDefinition, sandbox?: SandboxOptions): Promise<void> {
  const service = definition.name;
  let runtime: Runtime | undefined;
  try {
    const config = loadConfig(process.env, { sandboxByDefault: sandbox !== undefined });
    if (config.sandbox && !sandbox) {
      throw new ConfigurationError('DCR_SANDBOX', `this is the production entry point of ${service}, which never runs the sandbox: run \`node dist/sandbox/service/main.js ${service}\` (or npm start) for sandbox mode`);
    }
    const trust = config.sandbox && sandbox ? (await sandbox.sandboxTrust(config)).trust : trustFromConfig(config);
    runtime = await createRuntime(config, trust, service, {
      relay: definition.relay ?? false,
      ...(config.sandbox && sandbox ? { sandboxAuthorizationServer: sandbox.sandboxAuthorizationServer } : {}),
    });
    const running = await definition.start(runtime);
    runtime.logger.info({ mode: runtime.adapters.mode, profile: config.profile }, `${service} started`);
    const rt = runtime;
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      rt.logger.info({ signal }, `${service} stopping`);
      const force = setTimeout(() => process.exit(1), 15_000);
      force.unref();
      running
        .stop()
        .then(() => rt.close())
        .then(() => process.exit(0))
        .catch((err: unknown) => {
          rt.logger.error({ err }, 'error during shutdown');
          process.exit(1);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (error) {
    if (error instanceof ConfigurationError) console.error(`configuration error: ${error.message}`);
    else console.error(`${service} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    await runtime?.close().catch(() => {});
    process.exit(1);
  }
}
