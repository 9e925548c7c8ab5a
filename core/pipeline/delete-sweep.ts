import { finishDelete } from '../clients/delete-client.js';
import type { Client } from '../domain/client.js';
import type { AuthorizationServerPort } from '../ports/authorization-server.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';

export interface DeleteSweepOptions {
  /** The relay's lease owner: the sweep runs under the relay's leader lease, so one instance sweeps. */
  owner: string;
  leaseName?: string;
  leaseMs?: number;
  /** Only delete intents recorded this long ago are finished (a live DELETE finishes well before). */
  afterMs: number;
  /** Clients read per page. */
  batchSize?: number;
  /** After a sweep that finished deletes (metrics; waking the relay). */
  onFinished?: (count: number) => void;
}

export interface DeleteSweepReport {
  /** `deleting` clients old enough to be finished. */
  checked: number;
  /** Deleted by this sweep (AS delete, then `deleted` with its event). */
  finished: number;
  /** The AS (or the store) failed for them: the next sweep tries again. */
  failed: number;
}

/**
 * Finishes RFC 7592 deletes left half-done (issue 20): a `deleting` client whose intent is older
 * than `afterMs` (a crash, or an AS or store outage, after the intent was recorded) is deleted at
 * the AS again (idempotent) and marked `deleted` with its `dcr.client.deleted` event under its
 * stable id ({@link finishDelete}). A DELETE finishing it concurrently wins the conditional write,
 * and the sweep then does nothing. The AS is opened only when there is something to finish.
 */
export class DeleteSweep {
  readonly #opts: Required<Omit<DeleteSweepOptions, 'onFinished'>> & Pick<DeleteSweepOptions, 'onFinished'>;

  constructor(
    private readonly store: Store,
    private readonly authorizationServer: () => Promise<AuthorizationServerPort>,
    private readonly logger: Logger,
    options: DeleteSweepOptions,
  ) {
    this.#opts = { leaseName: 'outbox-relay', leaseMs: 10_000, batchSize: 500, ...options };
  }

  /** One sweep; `now` is the sweep's clock (tests move it forward). */
  async sweepOnce(now: Date = new Date()): Promise<DeleteSweepReport> {
    const report: DeleteSweepReport = { checked: 0, finished: 0, failed: 0 };
    if (!(await this.store.tryAcquireLease(this.#opts.leaseName, this.#opts.owner, this.#opts.leaseMs))) return report;
    const staleBefore = new Date(now.getTime() - this.#opts.afterMs).toISOString();
    const stale: Client[] = [];
    // `deleting` clients are few (deletes in flight and the ones left behind): read them all, a page at a time.
    for (let before: string | undefined; ; ) {
      const page = await this.store.listClients({ status: 'deleting', limit: this.#opts.batchSize, ...(before ? { before } : {}) });
      stale.push(...page.filter((c) => (c.deleteRequestedAt ?? c.updatedAt) < staleBefore));
      if (page.length < this.#opts.batchSize) break;
      before = page[page.length - 1]?.createdAt;
    }
    if (stale.length === 0) return report;
    const as = await this.authorizationServer();
    for (const client of stale) {
      report.checked += 1;
      try {
        const deleted = await finishDelete(this.store, as, client);
        if (!deleted) continue;
        report.finished += 1;
        this.logger.warn({ clientId: client.clientId, deleteRequestedAt: client.deleteRequestedAt, as: as.name }, 'delete sweep: finished a client delete left incomplete');
      } catch (err) {
        report.failed += 1;
        this.logger.warn({ clientId: client.clientId, as: as.name, err }, 'delete sweep: could not finish a client delete; next sweep');
      }
    }
    if (report.finished) this.#opts.onFinished?.(report.finished);
    return report;
  }
}
