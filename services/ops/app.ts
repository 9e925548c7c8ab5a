import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { debugRequestLogging } from '../../platform/http/request-log.js';
import type { OpsDeps } from './deps.js';
import { requireAdminToken } from './plugins/auth.js';
import { errorsPlugin } from '../../platform/http/fastify-errors.js';
import { traceHttpRequests } from '../../platform/observability/tracing.js';
import { DEFAULT_SERVER_TIMEOUTS, serverTimeoutOptions, type ServerTimeouts } from '../../platform/http/server-timeouts.js';
import { dashboardRoutes } from './routes/dashboard.get.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.get.js';
import { getRegistrationRoute } from './routes/registration.get.js';
import { replayRegistrationRoute } from './routes/registration.replay.js';
import { listRegistrationsRoute } from './routes/registrations.list.js';
import { bulkReplayRoute } from './routes/replay.bulk.js';
import { summaryRoute } from './routes/summary.get.js';
import { listClientsRoute } from './routes/clients.list.js';
import { statsRoute } from './routes/stats.get.js';
import { QueueHistory } from './stats.js';

export interface OpsAppOptions {
  deps: OpsDeps;
  /** The admin token every API route and `/metrics` require. */
  token: string;
  logger?: FastifyBaseLogger;
  /** Slow-client bounds (`DCR_HEADERS_TIMEOUT_MS`, `DCR_REQUEST_TIMEOUT_MS`); default 10 s / 30 s. */
  timeouts?: ServerTimeouts;
}

/**
 * The ops service's admin API over plain HTTP (bind it to a private interface: `DCR_ADMIN_HOST`).
 * Public: `/health/live`, `/health/ready` and the dashboard's static page. Behind
 * `Authorization: Bearer $DCR_ADMIN_TOKEN`: `/admin/registrations…`, `/admin/replay`,
 * `/admin/summary`, `/admin/clients`, `/admin/stats` and `/metrics` (Prometheus scrapes with `authorization: {credentials_file: …}`).
 */
export async function buildOpsApp(options: OpsAppOptions): Promise<FastifyInstance> {
  if (options.token.length < 16) throw new Error('the admin token must have at least 16 characters');
  const timeouts = serverTimeoutOptions(options.timeouts ?? DEFAULT_SERVER_TIMEOUTS);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Slow-loris bounds, as on the intake (server-timeouts.ts).
    http: { headersTimeout: timeouts.headersTimeout, connectionsCheckingInterval: timeouts.connectionsCheckingInterval },
    ...debugRequestLogging(),
    bodyLimit: 16 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: timeouts.requestTimeout,
    return503OnClosing: true,
    genReqId: () => crypto.randomUUID(),
    // Query strings are coerced (limit=10, force=true); unknown body members are refused, not dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  // First: a span per request (no-op unless OTEL_* tracing is on).
  traceHttpRequests(app);
  // Queue depth over time for the charts: sampled while the app runs.
  const queueHistory = new QueueHistory(options.deps.queue);
  app.addHook('onReady', async () => queueHistory.start());
  app.addHook('onClose', async () => queueHistory.stop());
  await app.register(errorsPlugin);
  await app.register(healthRoutes, { ready: options.deps.ready });
  await app.register(dashboardRoutes);
  await app.register(async (admin) => {
    requireAdminToken(admin, options.token);
    await admin.register(summaryRoute, { deps: options.deps });
    await admin.register(listRegistrationsRoute, { deps: options.deps });
    await admin.register(getRegistrationRoute, { deps: options.deps });
    await admin.register(replayRegistrationRoute, { deps: options.deps });
    await admin.register(bulkReplayRoute, { deps: options.deps });
    await admin.register(listClientsRoute, { deps: options.deps });
    await admin.register(statsRoute, { deps: options.deps, queueHistory });
    await admin.register(metricsRoute, { metrics: options.deps.metrics });
  });
  return app;
}
