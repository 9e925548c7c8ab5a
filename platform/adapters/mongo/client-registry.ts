import { MongoClient, MongoServerError, type Collection } from 'mongodb';
import type { ClientEventData } from '../../../core/events/schemas.js';
import type { ClientEvent } from '../../../core/events/validate.js';
import { REGISTRY_REMEMBERED_IDS, type ApplyResult, type ClientRegistry, type RegistryEntry } from '../../../core/ports/client-registry.js';

interface RegistryDoc {
  _id: string;
  status: ClientEventData['status'];
  client: ClientEventData;
  eventTime: string;
  eventTimeMs: number;
  eventIds: string[];
}

/** Distributed: a MongoDB collection; one conditional single-document upsert per event. */
export class MongoClientRegistry implements ClientRegistry {
  readonly #mongo: MongoClient;
  readonly #clients: Collection<RegistryDoc>;

  private constructor(mongo: MongoClient, collection: string) {
    this.#mongo = mongo;
    this.#clients = mongo.db().collection<RegistryDoc>(collection);
  }

  static async connect(url: string, namespace: string): Promise<MongoClientRegistry> {
    const mongo = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    return new MongoClientRegistry(mongo, `${namespace ? `${namespace}_` : ''}gateway_sync_clients`);
  }

  async apply(event: ClientEvent): Promise<ApplyResult> {
    const clientId = event.data.client_id;
    const eventTimeMs = Date.parse(event.time);
    try {
      // Matches only when this event is new and not older; otherwise the upsert collides on _id.
      await this.#clients.updateOne(
        { _id: clientId, eventIds: { $ne: event.id }, eventTimeMs: { $lte: eventTimeMs } },
        {
          $set: { status: event.data.status, client: event.data, eventTime: event.time, eventTimeMs },
          $push: { eventIds: { $each: [event.id], $slice: -REGISTRY_REMEMBERED_IDS } },
        },
        { upsert: true },
      );
      return 'applied';
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
      const current = await this.#clients.findOne({ _id: clientId }, { projection: { eventIds: 1 } });
      return current?.eventIds.includes(event.id) ? 'duplicate' : 'stale';
    }
  }

  async get(clientId: string): Promise<RegistryEntry | null> {
    const doc = await this.#clients.findOne({ _id: clientId });
    return doc ? { clientId, status: doc.status, client: doc.client, eventTime: doc.eventTime } : null;
  }

  async close(): Promise<void> {
    await this.#mongo.close();
  }
}
