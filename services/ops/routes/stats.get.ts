import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { STAGES } from '../../../core/domain/registration.js';
import type { OpsDeps } from '../deps.js';
import { OUTCOMES, STATS_WINDOWS, registrationStats, type QueueHistory, type StatsWindow } from '../stats.js';
import { ErrorBody } from '../views.js';

/** The most registrations one stats answer reads (newest first); `truncated` says when a window held more. */
export const STATS_READ_CAP = 5_000;

const StatsQuery = Type.Object(
  { window: Type.Optional(Type.Union(Object.keys(STATS_WINDOWS).map((w) => Type.Literal(w)), { default: '1h' })) },
  { additionalProperties: false },
);
type StatsQuery = Static<typeof StatsQuery>;

const Series = Type.Array(Type.Integer());
const NullableSeries = Type.Array(Type.Union([Type.Number(), Type.Null()]));
const PerStage = <T extends ReturnType<typeof Type.Object> | typeof Series>(schema: T) =>
  Type.Object(Object.fromEntries(STAGES.map((s) => [s, schema])) as Record<(typeof STAGES)[number], T>, { additionalProperties: false });

const StatsBody = Type.Object(
  {
    window: Type.String(),
    bucket_seconds: Type.Integer(),
    time: Type.Array(Type.Integer(), { description: 'bucket starts, epoch seconds' }),
    outcomes: Type.Object(Object.fromEntries(OUTCOMES.map((o) => [o, Series])) as Record<(typeof OUTCOMES)[number], typeof Series>, { additionalProperties: false }),
    latency_ms: PerStage(Type.Object({ p50: NullableSeries, p99: NullableSeries }, { additionalProperties: false })),
    registrations_read: Type.Integer(),
    truncated: Type.Boolean({ description: `true when the window held more than ${STATS_READ_CAP} registrations (the newest were read)` }),
    queue: Type.Object(
      { time: Type.Array(Type.Integer()), depth: PerStage(Series) },
      { additionalProperties: false, description: 'jobs waiting, active or delayed per stage, sampled by this ops process' },
    ),
  },
  { additionalProperties: false },
);

/** `GET /admin/stats?window=1h|6h|24h|7d`: the dashboard's charts (outcomes over time, stage latency p50/p99, queue depth). */
export async function statsRoute(app: FastifyInstance, options: { deps: OpsDeps; queueHistory: QueueHistory }) {
  const { store } = options.deps;
  app.get<{ Querystring: StatsQuery }>(
    '/admin/stats',
    { schema: { querystring: StatsQuery, response: { 200: StatsBody, 400: ErrorBody, 401: ErrorBody } } },
    async (request, reply) => {
      const window = (request.query.window ?? '1h') as StatsWindow;
      const { ms, bucketMs } = STATS_WINDOWS[window];
      const toMs = Math.ceil((Date.now() + 1) / bucketMs) * bucketMs;
      const fromMs = toMs - ms;
      const [rows] = await Promise.all([
        store.listRegistrations({ since: new Date(fromMs).toISOString(), limit: STATS_READ_CAP }),
        options.queueHistory.sample(),
      ]);
      const stats = registrationStats(rows, fromMs, toMs, bucketMs);
      const samples = options.queueHistory.since(Math.floor(fromMs / 1000));
      return reply.header('cache-control', 'no-store').send({
        window,
        bucket_seconds: bucketMs / 1000,
        time: stats.time,
        outcomes: stats.outcomes,
        latency_ms: stats.latencyMs,
        registrations_read: rows.length,
        truncated: rows.length === STATS_READ_CAP,
        queue: {
          time: samples.map((s) => s.at),
          depth: Object.fromEntries(STAGES.map((s) => [s, samples.map((q) => q.depth[s])])) as Record<(typeof STAGES)[number], number[]>,
        },
      });
    },
  );
}
