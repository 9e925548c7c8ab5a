import { MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import type { Client } from '../../../core/domain/client.js';
import { IN_FLIGHT_STATUSES, type OutboxEntry, type Registration, type RegistrationStatus } from '../../../core/domain/registration.js';
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
import { asDependencyUnavailable, guardAdapter } from '../dependency.js';
import { DependencyUnavailable } from '../../../core/errors/dependency-unavailable.js';
import { attachCommandCensus, censusClientOptions, type CommandCensusOptions } from './command-census.js';

type RegistrationDoc = Omit<Registration, 'id'> & { _id: string; outbox: OutboxEntry[] };
type ClientDoc = Omit<Client, 'clientId'> & { _id: string; outbox: OutboxEntry[] };
interface JtiDoc {
  _id: string;
  requestId: string;
  expiresAt: number;
}
interface LeaseDoc {
  _id: string;
  owner: string;
  expiresAt: number;
}

const isDuplicateKey = (error: unknown): boolean => error instanceof MongoServerError && error.code === 11000;

function toRegistration(doc: RegistrationDoc): Registration {
  const { _id, outbox: _outbox, ...rest } = doc;
  return { id: _id, ...rest };
}
function toClient(doc: ClientDoc): Client {
  const { _id, outbox: _outbox, ...rest } = doc;
  return { clientId: _id, ...rest };
}

/**
 * The distributed {@link Store} on MongoDB (driver 6.x; works with mongo-java-server, which has no
 * multi-document transactions). Each aggregate document carries its own outbox array, so a state
 * change and the events it produces are one atomic single-document update; the relay `$pull`s
 * entries once published.
 */
export class MongoStore implements Store {
  readonly #client: MongoClient;
  readonly #registrations: Collection<RegistrationDoc>;
  readonly #clients: Collection<ClientDoc>;
  readonly #jtis: Collection<JtiDoc>;
  readonly #leases: Collection<LeaseDoc>;
  #stopCensus: (() => void) | undefined;

  private constructor(client: MongoClient, db: Db, namespace: string) {
    this.#client = client;
    const prefix = namespace ? `${namespace}_` : '';
    this.#registrations = db.collection<RegistrationDoc>(`${prefix}registrations`);
    this.#clients = db.collection<ClientDoc>(`${prefix}clients`);
    this.#jtis = db.collection<JtiDoc>(`${prefix}jtis`);
    this.#leases = db.collection<LeaseDoc>(`${prefix}leases`);
  }

  /**
   * Connects and ensures the indexes. `startupWaitMs`: while MongoDB cannot be reached, try again
   * (pauses growing from 0.5 s to 5 s) for up to this long before giving up, so a service started
   * while its store is slow or away waits for it instead of exiting (the supervisor's restart loop);
   * `onWait` hears of each failed attempt. 0: one attempt. `census`: count this client's commands
   * (command-census.ts; `DCR_MONGO_COMMAND_CENSUS_DIR`), off when absent.
   */
  static async connect(
    url: string,
    namespace: string,
    options: { startupWaitMs?: number; onWait?: (attempt: number, error: unknown) => void; census?: CommandCensusOptions } = {},
  ): Promise<MongoStore> {
    const deadline = Date.now() + (options.startupWaitMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      try {
        return await MongoStore.#connectOnce(url, namespace, options.census);
      } catch (error) {
        if (!(error instanceof DependencyUnavailable) || Date.now() >= deadline) throw error;
        options.onWait?.(attempt, error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt, Math.max(0, deadline - Date.now()))));
      }
    }
  }

  static async #connectOnce(url: string, namespace: string, census: CommandCensusOptions | undefined): Promise<MongoStore> {
    const client = new MongoClient(url, {
      serverSelectionTimeoutMS: 5000,
      connectTimeoutMS: 5000,
      retryWrites: false,
      maxPoolSize: 20,
      ...censusClientOptions(census),
    });
    const stopCensus = census ? attachCommandCensus(client, census) : undefined;
    try {
      await client.connect();
      const store = new MongoStore(client, client.db(), namespace);
      store.#stopCensus = stopCensus;
      await store.#ensureIndexes();
      // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
      return guardAdapter(store, 'store');
    } catch (error) {
      stopCensus?.();
      await client.close().catch(() => {});
      throw asDependencyUnavailable('store', error, 'connect');
    }
  }

  async #ensureIndexes(): Promise<void> {
    await this.#registrations.createIndex({ submissionKey: 1 }, { unique: true, name: 'submissionKey_unique' });
    await this.#registrations.createIndex({ status: 1, updatedAt: 1 }, { name: 'status_updatedAt' });
    await this.#registrations.createIndex({ submittedAt: -1 }, { name: 'submittedAt' });
    await this.#registrations.createIndex({ 'outbox.id': 1 }, { name: 'outbox_pending', sparse: true });
    await this.#clients.createIndex({ 'outbox.id': 1 }, { name: 'outbox_pending', sparse: true });
    await this.#clients.createIndex({ requestId: 1 }, { name: 'requestId' });
    await this.#clients.createIndex({ createdAt: -1 }, { name: 'createdAt' });
    // the delete sweep's clients left `deleting`, newest first (and the ops list by status)
    await this.#clients.createIndex({ status: 1, createdAt: -1 }, { name: 'status_createdAt' });
    // the per-TPP quota on requests in progress
    await this.#registrations.createIndex({ 'certificate.tppIdentity': 1, status: 1 }, { name: 'tpp_status' });
    await this.#jtis.createIndex({ expiresAt: 1 }, { name: 'expiresAt' });
    // Retention's next requests to compact: compactedAt is null (or missing) for exactly those, so a
    // pass seeks them instead of walking status_updatedAt past every request compacted before.
    await this.#registrations.createIndex({ status: 1, compactedAt: 1, updatedAt: 1 }, { name: 'status_compactedAt_updatedAt' });
    // One registration per software: the key is set only on active clients (unset on delete).
    await this.#clients.createIndex({ activeSoftwareKey: 1 }, { unique: true, sparse: true, name: 'activeSoftwareKey_unique' });
  }

  async insertRegistration(registration: Registration, outbox: OutboxEntry[]) {
    const { id, ...rest } = registration;
    try {
      await this.#registrations.insertOne({ _id: id, ...rest, outbox });
      return { inserted: true, registration };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const existing = await this.#registrations.findOne({ submissionKey: registration.submissionKey });
      if (!existing) {
        // The duplicate was on _id (a redelivered insert of the same request).
        const same = await this.#registrations.findOne({ _id: id });
        if (!same) throw error;
        return { inserted: false, registration: toRegistration(same) };
      }
      return { inserted: false, registration: toRegistration(existing) };
    }
  }

  async getRegistration(id: string): Promise<Registration | null> {
    const doc = await this.#registrations.findOne({ _id: id }, { projection: { outbox: 0 } });
    return doc ? toRegistration(doc) : null;
  }

  async updateRegistration(current: Registration, change: RegistrationChange): Promise<Registration | null> {
    const push: Record<string, { $each: unknown[] }> = {};
    if (change.history?.length) push.history = { $each: change.history };
    if (change.outbox?.length) push.outbox = { $each: change.outbox };
    const update: Record<string, unknown> = { $set: { ...change.set, version: current.version + 1 } };
    if (Object.keys(push).length) update.$push = push;
    // No read-back of the (large) document: the version names the content the change applied to.
    const result = await this.#registrations.updateOne({ _id: current.id, version: current.version }, update);
    return result.matchedCount === 1 ? applyRegistrationChange(current, change) : null;
  }

  async findRegistrationBySubmissionKey(submissionKey: string): Promise<Registration | null> {
    const doc = await this.#registrations.findOne({ submissionKey }, { projection: { outbox: 0 } });
    return doc ? toRegistration(doc) : null;
  }

  async countInFlight(tppIdentity: string): Promise<number> {
    return this.#registrations.countDocuments({ 'certificate.tppIdentity': tppIdentity, status: { $in: [...IN_FLIGHT_STATUSES] } });
  }

  async purgeRetention(cutoffs: RetentionCutoffs): Promise<RetentionReport> {
    // Settled final records past their period with nothing left to publish (the outbox array is empty).
    const expired = {
      $or: [
        { status: 'rejected' as const, updatedAt: { $lt: cutoffs.rejectedBefore } },
        { status: 'registered' as const, updatedAt: { $lt: cutoffs.auditBefore } },
      ],
      outbox: { $size: 0 },
    };
    const ids = (await this.#registrations.find(expired, { projection: { _id: 1 } }).limit(cutoffs.batch).toArray()).map((d) => d._id);
    const deleted = ids.length ? (await this.#registrations.deleteMany({ _id: { $in: ids }, ...expired })).deletedCount : 0;

    const uncompacted = { status: 'registered' as const, updatedAt: { $lt: cutoffs.compactBefore }, compactedAt: null };
    const toCompact = (await this.#registrations.find(uncompacted, { projection: { _id: 1 } }).limit(cutoffs.batch).toArray()).map((d) => d._id);
    const compacted = toCompact.length
      ? (
          await this.#registrations.updateMany(
            { _id: { $in: toCompact }, ...uncompacted },
            // compactedRegistration (retention/compact.ts), as one update per document
            { $set: { body: '', verified: null, sealedToken: null, compactedAt: new Date().toISOString() }, $inc: { version: 1 } },
          )
        ).modifiedCount
      : 0;
    const jtis = (await this.#jtis.deleteMany({ expiresAt: { $lt: cutoffs.jtiBefore } })).deletedCount;
    return { deleted, compacted, jtis };
  }

  async listRegistrations(filter: RegistrationFilter): Promise<Registration[]> {
    const query: Record<string, unknown> = {};
    if (filter.status) query.status = filter.status;
    const updated: Record<string, string> = {};
    if (filter.since) updated.$gte = filter.since;
    if (filter.until) updated.$lt = filter.until;
    if (Object.keys(updated).length) query.updatedAt = updated;
    if (filter.before) query.submittedAt = { $lt: filter.before };
    if (filter.search) {
      const s = filter.search;
      query.$or = [{ _id: s }, { clientId: s }, { 'verified.softwareId': s }, { 'verified.orgId': s }, { 'certificate.tppIdentity': s }];
    }
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 10_000);
    const docs = await this.#registrations
      .find(query, { projection: { outbox: 0 } })
      .sort({ submittedAt: -1, _id: -1 })
      .limit(filter.error ? 10_000 : limit)
      .toArray();
    const all = docs.map(toRegistration);
    const error = filter.error;
    // A substring of the last error or the rejection code, matched here (user text is never a $regex).
    return (error ? all.filter((r) => (r.lastError ?? '').includes(error) || (r.outcome?.error ?? '').includes(error)) : all).slice(0, limit);
  }

  async countRegistrationsByStatus() {
    const rows = await this.#registrations.aggregate<{ _id: RegistrationStatus; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]).toArray();
    const counts: Partial<Record<RegistrationStatus, number>> = {};
    for (const row of rows) counts[row._id] = row.n;
    return counts;
  }

  async insertClient(client: Client, outbox: OutboxEntry[]) {
    const { clientId, activeSoftwareKey: _key, ...rest } = client;
    const activeSoftwareKey = activeSoftwareKeyOf(client);
    try {
      await this.#clients.insertOne({ _id: clientId, ...rest, ...(activeSoftwareKey !== null ? { activeSoftwareKey } : {}), outbox });
      return { inserted: true, client };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const existing = await this.#clients.findOne({ _id: clientId }, { projection: { outbox: 0 } });
      if (existing) return { inserted: false, client: toClient(existing) };
      const holder = activeSoftwareKey === null ? null : await this.#clients.findOne({ activeSoftwareKey }, { projection: { _id: 1 } });
      if (holder) throw new SoftwareAlreadyRegistered(activeSoftwareKey ?? '', holder._id);
      throw error;
    }
  }

  async getClient(clientId: string): Promise<Client | null> {
    const doc = await this.#clients.findOne({ _id: clientId }, { projection: { outbox: 0 } });
    return doc ? toClient(doc) : null;
  }

  async updateClient(clientId: string, expectedVersion: number, change: ClientChange): Promise<Client | null> {
    const { activeSoftwareKey: _key, ...set } = change.set;
    const update: Record<string, unknown> = { $set: { ...set, version: expectedVersion + 1 } };
    // A deleted client gives its software up (one registration per software; a `deleting` one keeps
    // it); the key never changes otherwise.
    if (change.set.status === 'deleted') update.$unset = { activeSoftwareKey: '' };
    if (change.outbox?.length) update.$push = { outbox: { $each: change.outbox } };
    const doc = await this.#clients.findOneAndUpdate({ _id: clientId, version: expectedVersion }, update, {
      returnDocument: 'after',
      projection: { outbox: 0 },
    });
    return doc ? toClient(doc) : null;
  }

  async listClients(filter: ClientFilter): Promise<Client[]> {
    const query: Record<string, unknown> = {};
    if (filter.status) query.status = filter.status;
    if (filter.search) {
      const s = filter.search;
      query.$or = [{ _id: s }, { softwareId: s }, { orgId: s }, { tppIdentity: s }];
    }
    if (filter.clientIds) query._id = { $in: [...filter.clientIds] };
    if (filter.before) query.createdAt = { $lt: filter.before };
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 10_000);
    const docs = await this.#clients.find(query, { projection: { outbox: 0 } }).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray();
    return docs.map(toClient);
  }

  async reserveJti(key: string, requestId: string, expiresAt: number): Promise<'reserved' | 'conflict'> {
    try {
      await this.#jtis.insertOne({ _id: key, requestId, expiresAt });
      return 'reserved';
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const existing = await this.#jtis.findOne({ _id: key });
    if (existing?.requestId === requestId) return 'reserved';
    const now = Math.floor(Date.now() / 1000);
    const taken = await this.#jtis.updateOne({ _id: key, expiresAt: { $lt: now } }, { $set: { requestId, expiresAt } });
    return taken.modifiedCount === 1 ? 'reserved' : 'conflict';
  }

  async pendingOutbox(limit: number, kind?: OutboxEntry['kind']): Promise<PendingOutboxEntry[]> {
    const query = { 'outbox.id': { $exists: true } };
    const projection = { outbox: 1, updatedAt: 1 };
    const [registrations, clients] = await Promise.all([
      this.#registrations.find(query, { projection }).sort({ updatedAt: 1 }).limit(limit).toArray(),
      this.#clients.find(query, { projection }).sort({ updatedAt: 1 }).limit(limit).toArray(),
    ]);
    const docs = [
      ...registrations.map((d) => ({ aggregate: 'registration' as const, id: d._id, at: d.updatedAt, outbox: d.outbox })),
      ...clients.map((d) => ({ aggregate: 'client' as const, id: d._id, at: d.updatedAt, outbox: d.outbox })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    const out: PendingOutboxEntry[] = [];
    for (const doc of docs) {
      for (const entry of doc.outbox ?? []) {
        if (kind && entry.kind !== kind) continue;
        out.push({ aggregate: doc.aggregate, aggregateId: doc.id, entry });
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  async markPublished(entries: Array<Pick<PendingOutboxEntry, 'aggregate' | 'aggregateId'> & { id: string }>): Promise<void> {
    const byAggregate = new Map<string, { aggregate: 'registration' | 'client'; id: string; ids: string[] }>();
    for (const e of entries) {
      const k = `${e.aggregate}:${e.aggregateId}`;
      const group = byAggregate.get(k) ?? { aggregate: e.aggregate, id: e.aggregateId, ids: [] };
      group.ids.push(e.id);
      byAggregate.set(k, group);
    }
    await Promise.all(
      [...byAggregate.values()].map((g) => {
        const pull = { $pull: { outbox: { id: { $in: g.ids } } } };
        return g.aggregate === 'registration'
          ? this.#registrations.updateOne({ _id: g.id }, pull as never)
          : this.#clients.updateOne({ _id: g.id }, pull as never);
      }),
    );
  }

  async outboxPending(aggregate: PendingOutboxEntry['aggregate'], aggregateId: string, id: string): Promise<boolean> {
    // Published entries are pulled from the document's outbox (markPublished).
    const query = { _id: aggregateId, 'outbox.id': id };
    const found = aggregate === 'registration'
      ? await this.#registrations.findOne(query, { projection: { _id: 1 } })
      : await this.#clients.findOne(query, { projection: { _id: 1 } });
    return found !== null;
  }

  async tryAcquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    try {
      const result = await this.#leases.updateOne(
        { _id: name, $or: [{ owner }, { expiresAt: { $lt: now } }] },
        { $set: { owner, expiresAt: now + ttlMs } },
        { upsert: true },
      );
      return result.matchedCount === 1 || result.upsertedCount === 1;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#leases.deleteOne({ _id: name, owner });
  }

  async ping(): Promise<void> {
    await this.#client.db().command({ ping: 1 });
  }

  async close(): Promise<void> {
    this.#stopCensus?.();
    await this.#client.close();
  }
}
