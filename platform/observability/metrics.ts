import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REGISTRATION_STATUSES, STAGES, type Stage } from '../../core/domain/registration.js';
import type { WorkQueue } from '../../core/ports/queue.js';
import type { Store } from '../../core/ports/store.js';

export type StageOutcome = 'advanced' | 'rejected' | 'retry' | 'failed' | 'skipped';
export const STAGE_OUTCOMES: readonly StageOutcome[] = ['advanced', 'rejected', 'retry', 'failed', 'skipped'];

/** Where the gauges read their values when Prometheus scrapes. */
export interface MetricSources {
  store: Pick<Store, 'countRegistrationsByStatus' | 'pendingOutbox'>;
  queue: Pick<WorkQueue, 'counts'>;
}

/** The outbox lag gauge counts pending entries up to this many (a scrape stays cheap). */
export const OUTBOX_LAG_CAP = 1000;

/**
 * The pipeline's Prometheus metrics, on a registry of their own (one per runtime, never prom-client's
 * global default registry, so two runtimes in one process, as in tests, do not collide).
 *
 * - `dcr_stage_jobs_total{stage,outcome}` and `dcr_stage_duration_seconds{stage,outcome}`: every
 *   stage job handled in this process (the StageRunner's `observe` hook);
 * - `dcr_registrations{status}`, `dcr_queue_jobs{stage,state}`, `dcr_outbox_pending`: read from the
 *   store and the queue at scrape time, so any process (the ops service) reports the whole pipeline;
 * - `dcr_outbox_relay_errors_total`, `dcr_outbox_relayed_total`: the outbox relay of this process
 *   (failed passes are mostly event publish failures: Kafka down);
 * - `dcr_replays_total{result}`: operator replays through this process;
 * - `dcr_client_deletes_finished_total`: RFC 7592 deletes left half-done that this process's delete
 *   sweep finished (core/pipeline/delete-sweep.ts);
 * - `dcr_metrics_source_errors_total{source}`: a gauge source that did not answer at scrape time.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  readonly stageJobs: Counter<'stage' | 'outcome'>;
  readonly stageDuration: Histogram<'stage' | 'outcome'>;
  readonly relayErrors: Counter;
  readonly relayed: Counter;
  readonly replays: Counter<'result'>;
  readonly deletesFinished: Counter;
  readonly sourceErrors: Counter<'source'>;

  constructor(sources: MetricSources, options: { service?: string; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.service) this.registry.setDefaultLabels({ service: options.service });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'dcr_' });

    this.stageJobs = new Counter({
      name: 'dcr_stage_jobs_total',
      help: 'Stage jobs handled, by stage and outcome (advanced, rejected, retry, failed, skipped)',
      labelNames: ['stage', 'outcome'],
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'dcr_stage_duration_seconds',
      help: 'Duration of stage jobs, by stage and outcome',
      labelNames: ['stage', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    // Zero series for every stage and outcome: a rate() has a baseline before the first job.
    for (const stage of STAGES) for (const outcome of STAGE_OUTCOMES) this.stageJobs.inc({ stage, outcome }, 0);
    this.relayErrors = new Counter({ name: 'dcr_outbox_relay_errors_total', help: 'Outbox relay passes that failed (event publish or store errors)', registers });
    this.relayed = new Counter({ name: 'dcr_outbox_relayed_total', help: 'Outbox entries (events and jobs) the relay published', registers });
    this.replays = new Counter({ name: 'dcr_replays_total', help: 'Operator replays, by result (replayed, skipped)', labelNames: ['result'], registers });
    this.deletesFinished = new Counter({
      name: 'dcr_client_deletes_finished_total',
      help: 'Client deletes left half-done (a crash or an outage after the intent) that the delete sweep finished',
      registers,
    });
    this.sourceErrors = new Counter({
      name: 'dcr_metrics_source_errors_total',
      help: 'Scrapes where a gauge source (store, queue) did not answer; its gauge keeps its last value',
      labelNames: ['source'],
      registers,
    });

    const sourceErrors = this.sourceErrors;
    new Gauge({
      name: 'dcr_registrations',
      help: 'Registration requests by status',
      labelNames: ['status'],
      registers,
      async collect() {
        try {
          const counts = await sources.store.countRegistrationsByStatus();
          for (const status of REGISTRATION_STATUSES) this.set({ status }, counts[status] ?? 0);
        } catch {
          sourceErrors.inc({ source: 'store' });
        }
      },
    });
    new Gauge({
      name: 'dcr_queue_jobs',
      help: 'Jobs in the work queue per stage and state (waiting, active, delayed)',
      labelNames: ['stage', 'state'],
      registers,
      async collect() {
        try {
          const all = await Promise.all(STAGES.map(async (stage) => [stage, await sources.queue.counts(stage)] as const));
          for (const [stage, counts] of all) {
            this.set({ stage, state: 'waiting' }, counts.waiting);
            this.set({ stage, state: 'active' }, counts.active);
            this.set({ stage, state: 'delayed' }, counts.delayed);
          }
        } catch {
          sourceErrors.inc({ source: 'queue' });
        }
      },
    });
    new Gauge({
      name: 'dcr_outbox_pending',
      help: `Outbox entries (events and jobs) committed but not yet published (counted up to ${OUTBOX_LAG_CAP})`,
      registers,
      async collect() {
        try {
          this.set((await sources.store.pendingOutbox(OUTBOX_LAG_CAP)).length);
        } catch {
          sourceErrors.inc({ source: 'outbox' });
        }
      },
    });
  }

  /** The StageRunner's `observe` hook. */
  observeStage(stage: Stage, outcome: StageOutcome, seconds: number): void {
    this.stageJobs.inc({ stage, outcome });
    this.stageDuration.observe({ stage, outcome }, seconds);
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
