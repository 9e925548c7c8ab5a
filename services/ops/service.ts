import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { resolveAdminToken, type AdminToken } from './admin-token.js';
import { buildOpsApp } from './app.js';

export interface RunningOps {
  app: FastifyInstance;
  url: string;
  port: number;
  /** How the admin token was obtained (the token itself only for the caller that must hand it out). */
  token: AdminToken;
  stop(): Promise<void>;
}

export interface OpsOptions {
  listen?: boolean;
  /** Where the one start-up line with a generated sandbox token goes (default stdout, never the log). */
  announce?: (line: string) => void;
}

/**
 * The ops service: admin API, dashboard, Prometheus metrics and health on `DCR_ADMIN_HOST:PORT`.
 * Refuses to start without `DCR_ADMIN_TOKEN` outside the sandbox (ConfigurationError naming it).
 */
export async function startOps(rt: Runtime, options: OpsOptions = {}): Promise<RunningOps> {
  const token = await resolveAdminToken(rt.config);
  const app = await buildOpsApp({
    deps: {
      store: rt.adapters.store,
      queue: rt.adapters.queue,
      dispatcher: rt.dispatcher,
      metrics: rt.metrics,
      onCommitted: () => rt.kickRelay(),
      ready: () => rt.adapters.store.ping(),
    },
    token: token.token,
    logger: rt.logger,
    timeouts: rt.config.httpTimeouts,
  });
  if (options.listen === false) return { app, url: '', port: 0, token, stop: () => app.close() };
  await app.listen({ host: rt.config.admin.host, port: rt.config.admin.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : rt.config.admin.port;
  const host = rt.config.admin.host.includes(':') ? `[${rt.config.admin.host}]` : rt.config.admin.host;
  const url = `http://${host}:${port}`;
  if (token.source !== 'config') {
    const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
    // The sandbox token is printed once here (stdout, not the structured log) and kept in its 0600 file.
    announce(
      token.source === 'generated'
        ? `admin token (sandbox, saved to ${token.file}): ${token.token}\n  dashboard: ${url}/admin/#token=${token.token}`
        : `admin token (sandbox): in ${token.file}; dashboard: ${url}/admin/`,
    );
  }
  return { app, url, port, token, stop: () => app.close() };
}

/** The service as a process: services/ops/main.ts (production), sandbox/service/main.ts (sandbox). */
export const opsService: ServiceDefinition = {
  name: 'ops',
  async start(rt) {
    const ops = await startOps(rt);
    rt.logger.info({ url: ops.url }, 'ops admin API listening');
    return ops;
  },
};
