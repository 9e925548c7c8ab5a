import type { Store, RetentionReport } from '../ports/store.js';

/** The retention periods (`DCR_RETENTION_*`, `DCR_RESULT_TTL_SECONDS`; README "Retention"). */
export interface RetentionPolicy {
  /** Rejected requests are deleted this long after rejection. */
  rejectedSeconds: number;
  /** Registered requests are compacted this long after registration (the token delivery window). */
  resultTtlSeconds: number;
  /** Registered requests are deleted this long after registration. */
  auditSeconds: number;
  /** Pause between passes; 0: no periodic pass. */
  intervalMs: number;
}

export interface RetentionPurgerOptions {
  owner: string;
  /** Requests a round compacts or deletes at most, in one store transaction (100). */
  batch?: number;
  /** Rounds a pass runs at most (500). */
  maxRounds?: number;
  /** Pause between two rounds of a pass, in ms (50). */
  pauseMs?: number;
  leaseMs?: number;
  onPurged?: (report: RetentionReport) => void;
  onError?: (error: unknown) => void;
}

export const RETENTION_LEASE = 'retention-purge';

/**
 * Applies the retention policy periodically. Only the holder of the `retention-purge` store lease
 * runs a pass, so one instance purges however many run; a pass works in bounded batches and touches
 * only settled final requests (store.ts `purgeRetention`), so it is safe against requests in flight.
 */
export class RetentionPurger {
  readonly #batch: number;
  readonly #maxRounds: number;
  readonly #pauseMs: number;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(
    private readonly store: Store,
    private readonly policy: RetentionPolicy,
    private readonly options: RetentionPurgerOptions,
  ) {
    // Small rounds with a pause between them: the embedded store runs a round as one synchronous
    // transaction on the event loop that also serves requests (≈ 6 ms for 100 compactions, ≈ 30 ms
    // for 500), and the pause lets the WAL checkpoint keep up with a backlog (a WAL grown past a
    // gigabyte takes its TRUNCATE over a second, during which the writer waits). A pass still
    // works through up to 50 000 requests (`npx tsx bench/retention-backlog.ts`; README "Retention").
    this.#batch = options.batch ?? 100;
    this.#maxRounds = options.maxRounds ?? 500;
    this.#pauseMs = options.pauseMs ?? 50;
    this.#leaseMs = options.leaseMs ?? Math.max(60_000, policy.intervalMs * 2);
  }

  start(): void {
    if (this.policy.intervalMs <= 0 || this.#timer) return;
    const tick = () => {
      this.#running = this.runOnce()
        .then((report) => report && (report.deleted || report.compacted || report.jtis) && this.options.onPurged?.(report))
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.policy.intervalMs).unref();
        });
    };
    this.#timer = setTimeout(tick, Math.min(this.policy.intervalMs, 5_000)).unref();
  }

  /**
   * One pass as of `now` (epoch ms): null when another instance holds the lease. Repeats the
   * store's batch until a batch comes back short (bounded, so one pass cannot run forever).
   */
  async runOnce(now: number = Date.now()): Promise<RetentionReport | null> {
    if (!(await this.store.tryAcquireLease(RETENTION_LEASE, this.options.owner, this.#leaseMs))) return null;
    const iso = (seconds: number) => new Date(now - seconds * 1000).toISOString();
    const cutoffs = {
      rejectedBefore: iso(this.policy.rejectedSeconds),
      compactBefore: iso(this.policy.resultTtlSeconds),
      auditBefore: iso(this.policy.auditSeconds),
      jtiBefore: Math.floor(now / 1000),
      batch: this.#batch,
    };
    const total: RetentionReport = { deleted: 0, compacted: 0, jtis: 0 };
    for (let round = 0; round < this.#maxRounds && !this.#stopped; round++) {
      if (round > 0 && this.#pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
      // A long pass renews its lease as it goes (a paced pass of 500 rounds can outlast a short one).
      if (round > 0 && round % 100 === 0 && !(await this.store.tryAcquireLease(RETENTION_LEASE, this.options.owner, this.#leaseMs))) break;
      const report = await this.store.purgeRetention(cutoffs);
      total.deleted += report.deleted;
      total.compacted += report.compacted;
      total.jtis += report.jtis;
      if (report.deleted < this.#batch && report.compacted < this.#batch) break;
    }
    return total;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.store.releaseLease(RETENTION_LEASE, this.options.owner).catch(() => {});
  }
}
