import { STAGES, STAGE_STATUS, type Registration, type RegistrationStatus, type Stage } from '../../core/domain/registration.js';
import type { WorkQueue } from '../../core/ports/queue.js';

/** The chart windows the dashboard offers, each with the width of one bucket. */
export const STATS_WINDOWS = {
  '1h': { ms: 3_600_000, bucketMs: 60_000 },
  '6h': { ms: 6 * 3_600_000, bucketMs: 5 * 60_000 },
  '24h': { ms: 24 * 3_600_000, bucketMs: 30 * 60_000 },
  '7d': { ms: 7 * 24 * 3_600_000, bucketMs: 6 * 3_600_000 },
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

export const OUTCOMES = ['registered', 'rejected', 'failed'] as const satisfies readonly RegistrationStatus[];
type Outcome = (typeof OUTCOMES)[number];

export interface RegistrationStats {
  /** Bucket starts, epoch seconds. */
  time: number[];
  /** Registrations that reached each outcome in a bucket (by their last update). */
  outcomes: Record<Outcome, number[]>;
  /** Per stage and bucket: p50 / p99 of the time from entering the stage's queue to leaving the stage (ms); null without a sample. */
  latencyMs: Record<Stage, { p50: Array<number | null>; p99: Array<number | null> }>;
}

const QUEUED_STAGE = new Map<RegistrationStatus, Stage>(STAGES.map((s) => [STAGE_STATUS[s].queued, s]));

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

/**
 * Registrations over time by outcome and stage latency, from the records' history timestamps (the
 * writers' clocks). A stage's latency runs from the transition (or replay) that queued the request
 * for it to the transition that left it: queue wait included, as a TPP experiences it.
 */
export function registrationStats(registrations: Iterable<Registration>, fromMs: number, toMs: number, bucketMs: number): RegistrationStats {
  const n = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
  const bucketOf = (t: number) => (t >= fromMs && t < toMs ? Math.floor((t - fromMs) / bucketMs) : -1);
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, new Array<number>(n).fill(0)])) as Record<Outcome, number[]>;
  const samples = Object.fromEntries(STAGES.map((s) => [s, Array.from({ length: n }, () => [] as number[])])) as Record<Stage, number[][]>;

  for (const r of registrations) {
    if ((OUTCOMES as readonly string[]).includes(r.status)) {
      const b = bucketOf(Date.parse(r.updatedAt));
      if (b >= 0) (outcomes[r.status as Outcome][b] as number)++;
    }
    const entered: Partial<Record<Stage, number>> = {};
    for (const h of r.history) {
      if (h.event !== 'transition' && h.event !== 'replayed') continue;
      const at = Date.parse(h.at);
      const stage = h.stage;
      if (h.event === 'transition' && stage && h.to && h.to !== STAGE_STATUS[stage].queued && h.to !== STAGE_STATUS[stage].running) {
        const start = entered[stage];
        const b = bucketOf(at);
        if (start !== undefined && b >= 0) samples[stage][b]?.push(at - start);
        delete entered[stage];
      }
      const next = h.to ? QUEUED_STAGE.get(h.to) : undefined;
      if (next && (h.event === 'replayed' || stage !== next)) entered[next] = at;
    }
  }

  const latencyMs = Object.fromEntries(
    STAGES.map((s) => {
      const sorted = samples[s].map((values) => values.sort((a, b) => a - b));
      return [s, { p50: sorted.map((v) => percentile(v, 0.5)), p99: sorted.map((v) => percentile(v, 0.99)) }];
    }),
  ) as RegistrationStats['latencyMs'];
  const time = Array.from({ length: n }, (_, i) => Math.floor((fromMs + i * bucketMs) / 1000));
  return { time, outcomes, latencyMs };
}

export interface QueueSample {
  /** Epoch seconds. */
  at: number;
  /** Jobs waiting, active or delayed, per stage. */
  depth: Record<Stage, number>;
}

/**
 * Queue depth over time: the ops process samples the queue every `intervalMs` and keeps the last
 * `capacity` samples in memory (a restart starts the chart afresh; the queue keeps no history).
 */
export class QueueHistory {
  readonly #queue: Pick<WorkQueue, 'counts'>;
  readonly #samples: QueueSample[] = [];
  readonly #capacity: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(queue: Pick<WorkQueue, 'counts'>, options: { intervalMs?: number; capacity?: number } = {}) {
    this.#queue = queue;
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#capacity = options.capacity ?? 2_880; // 12 h at 15 s
  }

  async sample(): Promise<QueueSample> {
    const counts = await Promise.all(STAGES.map(async (s) => [s, await this.#queue.counts(s)] as const));
    const depth = Object.fromEntries(counts.map(([s, c]) => [s, c.waiting + c.active + c.delayed])) as Record<Stage, number>;
    const sample = { at: Math.floor(Date.now() / 1000), depth };
    const last = this.#samples[this.#samples.length - 1];
    if (last && last.at === sample.at) this.#samples[this.#samples.length - 1] = sample;
    else this.#samples.push(sample);
    if (this.#samples.length > this.#capacity) this.#samples.shift();
    return sample;
  }

  /** The samples since `fromSeconds`, oldest first. */
  since(fromSeconds: number): QueueSample[] {
    return this.#samples.filter((s) => s.at >= fromSeconds);
  }

  start(): void {
    if (this.#timer) return;
    void this.sample().catch(() => {});
    this.#timer = setInterval(() => void this.sample().catch(() => {}), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
