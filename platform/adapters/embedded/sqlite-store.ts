import type { Client } from '../../../core/domain/client.js';
import { type OutboxEntry, type Registration, type RegistrationStatus, type Stage } from '../../../core/domain/registration.js';
import type { StageJobData } from '../../../core/ports/queue.js';
import {
  activeSoftwareKeyOf,
  applyRegistrationChange,
  type ClientChange,
  type ClientFilter,
  type PendingOutboxEntry,
  type RegistrationChange,
  type RegistrationFilter,
  type RetentionCutoffs,
  type RetentionReport,
  type Store,
  SoftwareAlreadyRegistered,
} from '../../../core/ports/store.js';
import { compactedRegistration } from '../../../core/retention/compact.js';
import type Database from 'better-sqlite3';
import type { CommittedOutbox } from './committed-outbox.js';
import { COMPACTABLE_CONDITION, IN_FLIGHT_CONDITION, REGISTRATION_PARTS, type EmbeddedDatabase } from './database.js';
import type { GroupCommit } from './group-commit.js';
import { guardAdapter } from '../dependency.js';

interface RegistrationRow {
  doc: string;
  /** The record's parts as one JSON object (null when it has none). */
  parts: string | null;
}
interface DocRow {
  doc: string;
}
type Part = (typeof REGISTRATION_PARTS)[number];

/** The columns a registration is read with: its record and its parts (database.ts) as one JSON object. */
const REGISTRATION_COLUMNS = `r.doc AS doc,
  (SELECT '{' || group_concat(json_quote(p.part) || ':' || p.value, ',') || '}' FROM registration_parts p WHERE p.id = r.id) AS parts`;

/** The records a write changes and a keyed read waits for (group-commit.ts). */
const registrationKey = (id: string) => `registration:${id}`;
const clientKey = (clientId: string) => `client:${clientId}`;

function registrationOf(row: RegistrationRow): Registration {
  const record = JSON.parse(row.doc) as Registration;
  return row.parts === null ? record : Object.assign(record, JSON.parse(row.parts) as Partial<Registration>);
}

/** The record without its parts (what `doc` holds); a part that is null stays in it as null. */
function recordOf(r: Registration): string {
  const record: Partial<Registration> = { ...r };
  for (const part of REGISTRATION_PARTS) if (record[part] !== null) delete record[part];
  return JSON.stringify(record);
}
interface OutboxRow {
  aggregate: 'registration' | 'client';
  aggregate_id: string;
  doc: string;
}

/**
 * The embedded {@link Store}: SQLite, one atomic write per state change with its outbox entries.
 * State changes resolve once durable (group commit, database.ts); reads resolve once what they saw is.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #commits: GroupCommit;
  readonly #committed: CommittedOutbox | undefined;
  readonly #stmt;
  /** Store.outboxDelivery: `committed` when opened with the queue and the event log of its file. */
  readonly outboxDelivery: 'committed' | undefined;

  /**
   * `committed`: the work queue and event log of the same database (committed-outbox.ts). With them,
   * a change's jobs and events are written into those tables in its own transaction and the outbox
   * table stays empty; without (a store on its own), they wait in the outbox for the relay.
   */
  constructor(embedded: EmbeddedDatabase, options: { committed?: CommittedOutbox } = {}) {
    const db = embedded.sqlite;
    this.#db = db;
    this.#commits = embedded.commits;
    this.#committed = options.committed;
    this.outboxDelivery = options.committed ? 'committed' : undefined;
    this.#stmt = {
      insertRegistration: db.prepare(
        `INSERT INTO registrations (id, submission_key, status, submitted_at, updated_at, last_error, version, doc, tpp, compacted_at)
         VALUES (@id, @submissionKey, @status, @submittedAt, @updatedAt, @lastError, @version, @doc, @tpp, @compactedAt)
         ON CONFLICT (submission_key) DO NOTHING`,
      ),
      registrationBySubmission: db.prepare<[string], RegistrationRow>(`SELECT ${REGISTRATION_COLUMNS} FROM registrations r WHERE r.submission_key = ?`),
      registrationById: db.prepare<[string], RegistrationRow>(`SELECT ${REGISTRATION_COLUMNS} FROM registrations r WHERE r.id = ?`),
      upsertPart: db.prepare('INSERT OR REPLACE INTO registration_parts (id, part, value) VALUES (?, ?, ?)'),
      deletePart: db.prepare('DELETE FROM registration_parts WHERE id = ? AND part = ?'),
      updateRegistration: db.prepare(
        `UPDATE registrations SET status = @status, updated_at = @updatedAt, last_error = @lastError, version = @version, doc = @doc,
         compacted_at = @compactedAt WHERE id = @id AND version = @expectedVersion`,
      ),
      insertOutbox: db.prepare(
        `INSERT INTO outbox (id, aggregate, aggregate_id, kind, doc) VALUES (@id, @aggregate, @aggregateId, @kind, @doc)
         ON CONFLICT (id) DO NOTHING`,
      ),
      insertClient: db.prepare(
        `INSERT INTO clients (client_id, request_id, status, version, doc, active_software) VALUES (@clientId, @requestId, @status, @version, @doc, @activeSoftware)
         ON CONFLICT (client_id) DO NOTHING`,
      ),
      clientById: db.prepare<[string], DocRow>('SELECT doc FROM clients WHERE client_id = ?'),
      clientBySoftware: db.prepare<[string], { client_id: string }>('SELECT client_id FROM clients WHERE active_software = ?'),
      updateClient: db.prepare(
        `UPDATE clients SET status = @status, version = @version, doc = @doc, active_software = @activeSoftware WHERE client_id = @clientId AND version = @expectedVersion`,
      ),
      countByStatus: db.prepare<[], { status: RegistrationStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM registrations GROUP BY status',
      ),
      jti: db.prepare<[string], { request_id: string; expires_at: number }>('SELECT request_id, expires_at FROM jtis WHERE key = ?'),
      upsertJti: db.prepare('INSERT OR REPLACE INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)'),
      purgeJtis: db.prepare('DELETE FROM jtis WHERE expires_at < ?'),
      pendingAll: db.prepare<[number], OutboxRow>(
        'SELECT aggregate, aggregate_id, doc FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?',
      ),
      pendingKind: db.prepare<[string, number], OutboxRow>(
        'SELECT aggregate, aggregate_id, doc FROM outbox WHERE published_at IS NULL AND kind = ? ORDER BY seq LIMIT ?',
      ),
      markPublished: db.prepare('UPDATE outbox SET published_at = ? WHERE id = ?'),
      pendingEntry: db.prepare<[string, string, string], { one: number }>('SELECT 1 AS one FROM outbox WHERE id = ? AND aggregate = ? AND aggregate_id = ? AND published_at IS NULL'),
      // 64 KiB: more than a registration's first write, so a probe that fits means one of those would too.
      probe: db.prepare('INSERT INTO write_probe (id, at, room) VALUES (1, ?, zeroblob(65536)) ON CONFLICT (id) DO UPDATE SET at = excluded.at, room = excluded.room'),
      purgePublished: db.prepare('DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?'),
      countInFlight: db.prepare<[string], { n: number }>(
        `SELECT COUNT(*) AS n FROM registrations WHERE tpp = ? AND ${IN_FLIGHT_CONDITION}`,
      ),
      // Settled final records past their period with nothing left to publish (retention).
      expired: db.prepare<{ rejectedBefore: string; auditBefore: string; batch: number }, { id: string }>(
        `SELECT r.id AS id FROM registrations r
         WHERE ((r.status = 'rejected' AND r.updated_at < @rejectedBefore) OR (r.status = 'registered' AND r.updated_at < @auditBefore))
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.aggregate_id = r.id AND o.published_at IS NULL)
         LIMIT @batch`,
      ),
      deleteParts: db.prepare('DELETE FROM registration_parts WHERE id = ?'),
      deleteRegistration: db.prepare('DELETE FROM registrations WHERE id = ?'),
      uncompacted: db.prepare<{ compactBefore: string; batch: number }, RegistrationRow>(
        // The partial index of the registered requests not yet compacted (database.ts, schema 5): a
        // pass reads only what it compacts, not every request it compacted before.
        // INDEXED BY: without statistics the planner prefers (status, updated_at), which holds them all.
        `SELECT ${REGISTRATION_COLUMNS} FROM registrations r INDEXED BY registrations_compactable
         WHERE ${COMPACTABLE_CONDITION} AND r.updated_at < @compactBefore
         ORDER BY r.updated_at LIMIT @batch`,
      ),
      lease: db.prepare<[string], { owner: string; expires_at: number }>('SELECT owner, expires_at FROM leases WHERE name = ?'),
      upsertLease: db.prepare('INSERT OR REPLACE INTO leases (name, owner, expires_at) VALUES (?, ?, ?)'),
      deleteLease: db.prepare('DELETE FROM leases WHERE name = ? AND owner = ?'),
    };
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'store');
  }

  /** Writes the parts `values` carries (an absent member is left as is; null or undefined removes its row: a null is kept in `doc`). */
  #writeParts(id: string, values: Partial<Registration>, inserted = false): void {
    for (const part of REGISTRATION_PARTS) {
      if (!(part in values)) continue;
      const value = values[part as Part];
      if (value !== null && value !== undefined) this.#stmt.upsertPart.run(id, part, JSON.stringify(value));
      else if (!inserted) this.#stmt.deletePart.run(id, part);
    }
  }

  #addOutbox(aggregate: 'registration' | 'client', aggregateId: string, entries: readonly OutboxEntry[]): void {
    if (this.#committed) {
      const events: OutboxEntry[] = [];
      for (const entry of entries) {
        if (entry.kind === 'job') this.#committed.jobs.insertCommitted(entry.topic as Stage, entry.id, entry.data as unknown as StageJobData);
        else events.push(entry);
      }
      if (events.length) this.#committed.events.appendCommitted(events);
      return;
    }
    for (const entry of entries) {
      this.#stmt.insertOutbox.run({ id: entry.id, aggregate, aggregateId, kind: entry.kind, doc: JSON.stringify(entry) });
    }
  }

  async insertRegistration(registration: Registration, outbox: OutboxEntry[]) {
    return this.#commits.durable(this.#db.transaction(() => {
      const result = this.#stmt.insertRegistration.run({
        id: registration.id,
        submissionKey: registration.submissionKey,
        status: registration.status,
        submittedAt: registration.submittedAt,
        updatedAt: registration.updatedAt,
        lastError: registration.lastError ?? null,
        version: registration.version,
        doc: recordOf(registration),
        tpp: registration.certificate.tppIdentity,
        compactedAt: registration.compactedAt ?? null,
      });
      if (result.changes === 1) {
        this.#writeParts(registration.id, registration, true);
        this.#addOutbox('registration', registration.id, outbox);
        return { inserted: true, registration };
      }
      const row = this.#stmt.registrationBySubmission.get(registration.submissionKey);
      if (!row) throw new Error('registration vanished during insert');
      return { inserted: false, registration: registrationOf(row) };
    }), registrationKey(registration.id));
  }

  async getRegistration(id: string): Promise<Registration | null> {
    const row = await this.#commits.observed(() => this.#stmt.registrationById.get(id), registrationKey(id));
    return row ? registrationOf(row) : null;
  }

  async updateRegistration(current: Registration, change: RegistrationChange): Promise<Registration | null> {
    const next = applyRegistrationChange(current, change);
    return this.#commits.durable(this.#db.transaction(() => {
      // Compare-and-set on the version; the parts are rewritten only when the change sets them.
      if (!this.#compareAndSet(current, next)) return null;
      this.#writeParts(current.id, change.set);
      this.#addOutbox('registration', current.id, change.outbox ?? []);
      if (change.completesJob !== undefined) this.#committed?.jobs.completeCommitted(change.completesJob);
      return next;
    }), registrationKey(current.id));
  }

  /** Writes `next` iff the stored record is still at `current.version` (inside a transaction). */
  #compareAndSet(current: Registration, next: Registration): boolean {
    const result = this.#stmt.updateRegistration.run({
      id: current.id,
      expectedVersion: current.version,
      status: next.status,
      updatedAt: next.updatedAt,
      lastError: next.lastError ?? null,
      version: next.version,
      doc: recordOf(next),
      compactedAt: next.compactedAt ?? null,
    });
    return result.changes === 1;
  }

  async findRegistrationBySubmissionKey(submissionKey: string): Promise<Registration | null> {
    const row = await this.#commits.observed(() => this.#stmt.registrationBySubmission.get(submissionKey));
    return row ? registrationOf(row) : null;
  }

  async countInFlight(tppIdentity: string): Promise<number> {
    return (await this.#commits.observed(() => this.#stmt.countInFlight.get(tppIdentity)))?.n ?? 0;
  }

  async purgeRetention(cutoffs: RetentionCutoffs): Promise<RetentionReport> {
    const now = new Date().toISOString();
    return this.#commits.durable(this.#db.transaction(() => {
      const expired = this.#stmt.expired.all({ rejectedBefore: cutoffs.rejectedBefore, auditBefore: cutoffs.auditBefore, batch: cutoffs.batch });
      for (const { id } of expired) {
        this.#stmt.deleteParts.run(id);
        this.#stmt.deleteRegistration.run(id);
      }
      let compacted = 0;
      for (const row of this.#stmt.uncompacted.all({ compactBefore: cutoffs.compactBefore, batch: cutoffs.batch })) {
        const current = registrationOf(row);
        const next = compactedRegistration(current, now);
        if (!this.#compareAndSet(current, next)) continue;
        // The certificate stays as it was (compact.ts): only the dropped parts are rewritten.
        this.#writeParts(current.id, { body: next.body, verified: null });
        compacted += 1;
      }
      const jtis = this.#stmt.purgeJtis.run(cutoffs.jtiBefore).changes;
      return { deleted: expired.length, compacted, jtis };
    }));
  }

  async listRegistrations(filter: RegistrationFilter): Promise<Registration[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.since) {
      where.push('updated_at >= @since');
      params.since = filter.since;
    }
    if (filter.until) {
      where.push('updated_at < @until');
      params.until = filter.until;
    }
    if (filter.before) {
      where.push('submitted_at < @before');
      params.before = filter.before;
    }
    if (filter.error) {
      where.push(`(instr(coalesce(last_error, ''), @error) > 0 OR EXISTS (SELECT 1 FROM registration_parts p
        WHERE p.id = r.id AND p.part = 'outcome' AND instr(coalesce(p.value ->> '$.error', ''), @error) > 0))`);
      params.error = filter.error;
    }
    if (filter.search) {
      // An exact id: the request, its client (in the record), or who sent it (in its parts).
      where.push(`(r.id = @search OR r.doc ->> '$.clientId' = @search OR EXISTS (SELECT 1 FROM registration_parts p WHERE p.id = r.id AND (
        (p.part = 'verified' AND (p.value ->> '$.softwareId' = @search OR p.value ->> '$.orgId' = @search))
        OR (p.part = 'certificate' AND p.value ->> '$.tppIdentity' = @search))))`);
      params.search = filter.search;
    }
    params.limit = Math.min(Math.max(filter.limit ?? 50, 1), 10_000);
    const sql = `SELECT ${REGISTRATION_COLUMNS} FROM registrations r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY r.submitted_at DESC, r.id DESC LIMIT @limit`;
    const statement = this.#db.prepare<Record<string, string | number>, RegistrationRow>(sql);
    return (await this.#commits.observed(() => statement.all(params))).map(registrationOf);
  }

  async countRegistrationsByStatus() {
    const counts: Partial<Record<RegistrationStatus, number>> = {};
    for (const row of await this.#commits.observed(() => this.#stmt.countByStatus.all())) counts[row.status] = row.n;
    return counts;
  }

  async insertClient(client: Client, outbox: OutboxEntry[]) {
    const activeSoftware = activeSoftwareKeyOf(client);
    const result = await this.#commits.durable(this.#db.transaction((): { inserted: boolean; client: Client } | { heldBy: string } => {
      const existing = this.#stmt.clientById.get(client.clientId);
      if (existing) return { inserted: false, client: JSON.parse(existing.doc) as Client };
      // The unique index `clients_active_software` is the guarantee; this read only names the holder.
      const holder = activeSoftware === null ? undefined : this.#stmt.clientBySoftware.get(activeSoftware);
      if (holder) return { heldBy: holder.client_id };
      this.#stmt.insertClient.run({
        clientId: client.clientId,
        requestId: client.requestId,
        status: client.status,
        version: client.version,
        doc: JSON.stringify(client),
        activeSoftware,
      });
      this.#addOutbox('client', client.clientId, outbox);
      return { inserted: true, client };
    }), clientKey(client.clientId));
    if ('heldBy' in result) throw new SoftwareAlreadyRegistered(activeSoftware ?? '', result.heldBy);
    return result;
  }

  async getClient(clientId: string): Promise<Client | null> {
    const row = await this.#commits.observed(() => this.#stmt.clientById.get(clientId), clientKey(clientId));
    return row ? (JSON.parse(row.doc) as Client) : null;
  }

  async updateClient(clientId: string, expectedVersion: number, change: ClientChange): Promise<Client | null> {
    return this.#commits.durable(this.#db.transaction(() => {
      const row = this.#stmt.clientById.get(clientId);
      if (!row) return null;
      const current = JSON.parse(row.doc) as Client;
      if (current.version !== expectedVersion) return null;
      const next: Client = { ...current, ...change.set, version: expectedVersion + 1 };
      // A deleted client gives its software up (one registration per software); a `deleting` one keeps it.
      if (next.status === 'deleted') delete next.activeSoftwareKey;
      const result = this.#stmt.updateClient.run({
        clientId,
        expectedVersion,
        status: next.status,
        version: next.version,
        doc: JSON.stringify(next),
        activeSoftware: activeSoftwareKeyOf(next),
      });
      if (result.changes !== 1) return null;
      this.#addOutbox('client', clientId, change.outbox ?? []);
      return next;
    }), clientKey(clientId));
  }

  async listClients(filter: ClientFilter): Promise<Client[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.search) {
      where.push(`(client_id = @search OR doc ->> '$.softwareId' = @search OR doc ->> '$.orgId' = @search OR doc ->> '$.tppIdentity' = @search)`);
      params.search = filter.search;
    }
    if (filter.clientIds) {
      where.push('client_id IN (SELECT value FROM json_each(@ids))');
      params.ids = JSON.stringify(filter.clientIds);
    }
    if (filter.before) {
      where.push("doc ->> '$.createdAt' < @before");
      params.before = filter.before;
    }
    params.limit = Math.min(Math.max(filter.limit ?? 50, 1), 10_000);
    const sql = `SELECT doc FROM clients ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY doc ->> '$.createdAt' DESC, client_id DESC LIMIT @limit`;
    const statement = this.#db.prepare<Record<string, string | number>, DocRow>(sql);
    return (await this.#commits.observed(() => statement.all(params))).map((row) => JSON.parse(row.doc) as Client);
  }

  async reserveJti(key: string, requestId: string, expiresAt: number): Promise<'reserved' | 'conflict'> {
    return this.#commits.durable(this.#db.transaction(() => {
      const now = Math.floor(Date.now() / 1000);
      const existing = this.#stmt.jti.get(key);
      if (existing && existing.request_id !== requestId && existing.expires_at >= now) return 'conflict' as const;
      this.#stmt.upsertJti.run(key, requestId, expiresAt);
      if (Math.random() < 0.01) this.#stmt.purgeJtis.run(now);
      return 'reserved' as const;
    }));
  }

  async pendingOutbox(limit: number, kind?: OutboxEntry['kind']): Promise<PendingOutboxEntry[]> {
    // Observed: an entry must be durable before a relay hands it to the outside world.
    const rows = await this.#commits.observed(() => (kind ? this.#stmt.pendingKind.all(kind, limit) : this.#stmt.pendingAll.all(limit)));
    return rows.map((r) => ({ aggregate: r.aggregate, aggregateId: r.aggregate_id, entry: JSON.parse(r.doc) as OutboxEntry }));
  }

  async markPublished(entries: Array<{ id: string }>): Promise<void> {
    const now = new Date().toISOString();
    // Lazy: a mark lost in a crash only means the entry is handed over again, with the same id.
    const purge = Math.random() < 0.01;
    const write = () => {
      for (const e of entries) this.#stmt.markPublished.run(now, e.id);
      if (purge) this.#stmt.purgePublished.run(new Date(Date.now() - 86_400_000).toISOString());
    };
    // One statement is atomic by itself: a savepoint (inside the open batch) only for several.
    this.#commits.lazy(entries.length === 1 && !purge ? write : this.#db.transaction(write));
  }

  async outboxPending(aggregate: PendingOutboxEntry['aggregate'], aggregateId: string, id: string): Promise<boolean> {
    // Observed: a mark (a lazy write) counts only once it is durable.
    return (await this.#commits.observed(() => this.#stmt.pendingEntry.get(id, aggregate, aggregateId))) !== undefined;
  }

  async tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    // No savepoint: one write, after a read that nothing can change in between (this connection is
    // the only writer of the file, data-dir-lock.ts, and the read and the write run in one turn).
    return this.#commits.durable(() => {
      const now = Date.now();
      const lease = this.#stmt.lease.get(name);
      if (lease && lease.owner !== owner && lease.expires_at > now) return false;
      this.#stmt.upsertLease.run(name, owner, now + ttlMs);
      return true;
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#commits.durable(() => this.#stmt.deleteLease.run(name, owner));
  }

  /** Whether writes are being stored now (see GroupCommit.writeFailure), and how many batches were rolled back since start. */
  writeHealth(): { failure: string | undefined; rolledBackBatches: number } {
    return { failure: this.#commits.writeFailure?.message, rolledBackBatches: this.#commits.rolledBackBatches };
  }

  /**
   * Readiness: the database answers and takes writes. After a batch was rolled back (a full disk:
   * `SQLITE_FULL`) it is not ready until a write is stored again: a probe row of 64 KiB written
   * durably here (larger than a registration's first write), or any other write with a waiter; so
   * readiness comes back by itself once space returns.
   */
  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
    if (this.#commits.writeFailure) await this.#commits.durable(() => this.#stmt.probe.run(Date.now()));
  }

  async close(): Promise<void> {
    // The database handle is shared with the embedded queue; the runtime closes it.
  }
}
