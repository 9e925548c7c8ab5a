import { MongoClient, type Collection } from 'mongodb';
import {
  AS_STORE_REMEMBERED_IDS,
  modelExpiresAt,
  type AsClientEvent,
  type AsClientRecord,
  type AsStore,
  type ClientApplyResult,
  type ModelPayload,
} from '../../../core/ports/sandbox-as-store.js';

interface ModelDoc {
  _id: string;
  model: string;
  payload: ModelPayload;
  grantId?: string;
  userCode?: string;
  uid?: string;
  expiresAt: number | null;
}

interface ClientDoc {
  _id: string;
  status: 'active' | 'deleted';
  data: Record<string, unknown>;
  eventTimeMs: number;
  eventIds: string[];
}

/** Distributed: `{namespace}_sandbox_as_models` and `{namespace}_sandbox_as_clients`. */
export class MongoAsStore implements AsStore {
  readonly #mongo: MongoClient;
  readonly #models: Collection<ModelDoc>;
  readonly #clients: Collection<ClientDoc>;

  private constructor(mongo: MongoClient, prefix: string) {
    this.#mongo = mongo;
    this.#models = mongo.db().collection<ModelDoc>(`${prefix}sandbox_as_models`);
    this.#clients = mongo.db().collection<ClientDoc>(`${prefix}sandbox_as_clients`);
  }

  static async connect(url: string, namespace: string): Promise<MongoAsStore> {
    const mongo = new MongoClient(url, { serverSelectionTimeoutMS: 5000, retryWrites: false });
    await mongo.connect();
    const store = new MongoAsStore(mongo, namespace ? `${namespace}_` : '');
    await store.#models.createIndex({ grantId: 1 }, { name: 'grantId', sparse: true });
    return store;
  }

  static #key(model: string, id: string): string {
    return `${model}:${id}`;
  }

  async upsert(model: string, id: string, payload: ModelPayload, expiresIn: number | undefined): Promise<void> {
    const doc: Omit<ModelDoc, '_id'> = { model, payload, expiresAt: modelExpiresAt(expiresIn) };
    for (const field of ['grantId', 'userCode', 'uid'] as const) if (typeof payload[field] === 'string') doc[field] = payload[field];
    await this.#models.replaceOne({ _id: MongoAsStore.#key(model, id) }, doc, { upsert: true });
  }

  #live(doc: ModelDoc | null): ModelPayload | undefined {
    if (!doc || (doc.expiresAt !== null && doc.expiresAt <= Date.now())) return undefined;
    return doc.payload;
  }

  async find(model: string, id: string): Promise<ModelPayload | undefined> {
    return this.#live(await this.#models.findOne({ _id: MongoAsStore.#key(model, id) }));
  }

  async findBy(model: string, field: 'userCode' | 'uid', value: string): Promise<ModelPayload | undefined> {
    return this.#live(await this.#models.findOne({ model, [field]: value }));
  }

  async consume(model: string, id: string): Promise<void> {
    await this.#models.updateOne({ _id: MongoAsStore.#key(model, id) }, { $set: { 'payload.consumed': Math.floor(Date.now() / 1000) } });
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.#models.deleteOne({ _id: MongoAsStore.#key(model, id) });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#models.deleteMany({ grantId });
  }

  async applyClient(event: AsClientEvent): Promise<ClientApplyResult> {
    // Two writers (the event consumer, the provisioner's synchronous write): the replace is
    // conditional on the stored time, so a write that read an older state never undoes a newer one.
    const current = await this.#clients.findOne({ _id: event.clientId });
    if (current?.eventIds.includes(event.id)) return 'duplicate';
    if (current && event.timeMs < current.eventTimeMs) return 'stale';
    const doc = { status: event.status, data: event.data, eventTimeMs: event.timeMs, eventIds: [...(current?.eventIds ?? []), event.id].slice(-AS_STORE_REMEMBERED_IDS) };
    try {
      if (current) {
        const replaced = await this.#clients.replaceOne({ _id: event.clientId, eventTimeMs: current.eventTimeMs }, doc);
        return replaced.matchedCount === 1 ? 'applied' : this.applyClient(event);
      }
      await this.#clients.insertOne({ _id: event.clientId, ...doc });
      return 'applied';
    } catch (error) {
      // A concurrent first write of the same client: decide again against it.
      if ((error as { code?: unknown }).code === 11000) return this.applyClient(event);
      throw error;
    }
  }

  async getClient(clientId: string): Promise<AsClientRecord | null> {
    const doc = await this.#clients.findOne({ _id: clientId });
    return doc ? { clientId, status: doc.status, data: doc.data, eventTimeMs: doc.eventTimeMs, eventIds: doc.eventIds } : null;
  }

  async close(): Promise<void> {
    await this.#mongo.close();
  }
}
