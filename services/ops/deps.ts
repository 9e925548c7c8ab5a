import type { PipelineMetrics } from '../../platform/observability/metrics.js';
import type { JobDispatcher } from '../../core/outbox/job-dispatcher.js';
import type { WorkQueue } from '../../core/ports/queue.js';
import type { Store } from '../../core/ports/store.js';

/** What the admin API works on: the store, the job dispatcher (replays) and the metrics. */
export interface OpsDeps {
  store: Store;
  /** Queue depth per stage (the dashboard's summary). */
  queue: Pick<WorkQueue, 'counts'>;
  dispatcher: JobDispatcher;
  metrics: PipelineMetrics;
  /** Wakes the in-process outbox relay after a replay commit, if this process runs one. */
  onCommitted?: () => void;
  /** Readiness: the store answers. */
  ready: () => Promise<void>;
}

/** The actor a request acts as: the `X-Actor` header (validated by the route schema) or `admin`. */
export function actorOf(headers: { 'x-actor'?: string | string[] | undefined }): string {
  const value = headers['x-actor'];
  return typeof value === 'string' && value.length > 0 ? value : 'admin';
}
