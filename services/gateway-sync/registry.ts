import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MongoClient, MongoServerError, type Collection } from 'mongodb';
import type { Config } from '../../platform/config/schema.js';
import type { ClientEventData } from '../../core/events/schemas.js';
import type { ClientEvent } from '../../core/events/validate.js';

/** One client as the gateway knows it; a deleted client stays as a tombstone so late events lose. */
export interface RegistryEntry {
  clientId: string;
  status: ClientEventData['status'];
  client: ClientEventData;
  /** `time` of the event last applied: the order guard. */
  eventTime: string;
}

/** `applied`; `duplicate`: this event id was applied already; `stale`: older than what is stored. */
export type ApplyResult = 'applied' | 'duplicate' | 'stale';

export interface ClientRegistry {
  /** Applies a client event idempotently (dedupe by id) and in order (by event time) per client. */
  apply(event: ClientEvent): Promise<ApplyResult>;
  get(clientId: string): Promise<RegistryEntry | null>;
  close(): Promise<void>;
}

/** Event ids remembered per client for dedupe (redeliveries come close together). */
const REMEMBERED_IDS = 32;

/** Embedded: a table in `DCR_DATA_DIR/gateway-sync.sqlite`, one transaction per event. */
export class SqliteClientRegistry implements ClientRegistry {
  readonly #db: Database.Database;
  readonly #select;
  readonly #upsert;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(join(dataDir, 'gateway-sync.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS clients (
      client_id TEXT PRIMARY KEY, status TEXT NOT NULL, client TEXT NOT NULL,
      event_time TEXT NOT NULL, event_time_ms INTEGER NOT NULL, event_ids TEXT NOT NULL)`);
    this.#select = this.#db.prepare<[string], { client: string; event_time: string; event_time_ms: number; event_ids: string }>(
      'SELECT client, event_time, event_time_ms, event_ids FROM clients WHERE client_id = ?',
    );
    this.#upsert = this.#db.prepare<[string, string, string, string, number, string]>(
      'INSERT OR REPLACE INTO clients (client_id, status, client, event_time, event_time_ms, event_ids) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  async apply(event: ClientEvent): Promise<ApplyResult> {
    const { client_id: clientId, status } = event.data;
    const timeMs = Date.parse(event.time);
    return this.#db.transaction((): ApplyResult => {
      const row = this.#select.get(clientId);
      const ids = row ? (JSON.parse(row.event_ids) as string[]) : [];
      if (ids.includes(event.id)) return 'duplicate';
      if (row && timeMs < row.event_time_ms) return 'stale';
      this.#upsert.run(clientId, status, JSON.stringify(event.data), event.time, timeMs, JSON.stringify([...ids, event.id].slice(-REMEMBERED_IDS)));
      return 'applied';
    })();
  }

  async get(clientId: string): Promise<RegistryEntry | null> {
    const row = this.#select.get(clientId);
    if (!row) return null;
    const client = JSON.parse(row.client) as ClientEventData;
    return { clientId, status: client.status, client, eventTime: row.event_time };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

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
          $push: { eventIds: { $each: [event.id], $slice: -REMEMBERED_IDS } },
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

export async function openClientRegistry(config: Config): Promise<ClientRegistry> {
  return config.mongoUrl ? MongoClientRegistry.connect(config.mongoUrl, config.namespace) : new SqliteClientRegistry(config.dataDir);
}
