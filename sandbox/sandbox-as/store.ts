import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MongoClient, type Collection } from 'mongodb';
import type { Config } from '../../platform/config/schema.js';

/** A node-oidc-provider model document (tokens, replay-detection entries, grants …). */
export type ModelPayload = Record<string, unknown>;

/** One client as the AS learned it from `dcr.client.v1`; a deleted client stays as a tombstone. */
export interface AsClientRecord {
  clientId: string;
  status: 'active' | 'deleted';
  /** The client event's data (never a token or a private key). */
  data: Record<string, unknown>;
  eventTimeMs: number;
  eventIds: string[];
}

export type ClientApplyResult = 'applied' | 'duplicate' | 'stale';

/**
 * The sandbox AS's own state: node-oidc-provider models, and the clients it learned from the event
 * stream. SQLite in embedded mode, MongoDB collections in distributed mode (like the pipeline's store).
 */
export interface AsStore {
  upsert(model: string, id: string, payload: ModelPayload, expiresIn: number | undefined): Promise<void>;
  find(model: string, id: string): Promise<ModelPayload | undefined>;
  findBy(model: string, field: 'userCode' | 'uid', value: string): Promise<ModelPayload | undefined>;
  consume(model: string, id: string): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
  /** Applies a client event idempotently (dedupe by event id) and in order (event time) per client. */
  applyClient(event: { id: string; timeMs: number; clientId: string; status: 'active' | 'deleted'; data: Record<string, unknown> }): Promise<ClientApplyResult>;
  getClient(clientId: string): Promise<AsClientRecord | null>;
  close(): Promise<void>;
}

const REMEMBERED_IDS = 32;

function expiresAt(expiresIn: number | undefined): number | null {
  return typeof expiresIn === 'number' && expiresIn > 0 ? Date.now() + expiresIn * 1000 : null;
}

/** Embedded: `DCR_DATA_DIR/sandbox-as.sqlite`. */
export class SqliteAsStore implements AsStore {
  readonly #db: Database.Database;
  /** Prepared once per SQL text (a prepare per call showed up in bench/count-statements.ts). */
  readonly #statements = new Map<string, Database.Statement>();
  #applyClient: ((event: Parameters<SqliteAsStore['applyClient']>[0]) => ClientApplyResult) | undefined;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(join(dataDir, 'sandbox-as.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS models (
        model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
        grant_id TEXT, user_code TEXT, uid TEXT, expires_at INTEGER,
        PRIMARY KEY (model, id));
      CREATE INDEX IF NOT EXISTS models_grant ON models (grant_id);
      CREATE TABLE IF NOT EXISTS clients (
        client_id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL,
        event_time_ms INTEGER NOT NULL, event_ids TEXT NOT NULL);
    `);
  }

  #prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  async upsert(model: string, id: string, payload: ModelPayload, expiresIn: number | undefined): Promise<void> {
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    this
      .#prepare('INSERT OR REPLACE INTO models (model, id, payload, grant_id, user_code, uid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(model, id, JSON.stringify(payload), str(payload.grantId), str(payload.userCode), str(payload.uid), expiresAt(expiresIn));
  }

  #live(row: { payload: string; expires_at: number | null } | undefined): ModelPayload | undefined {
    if (!row || (row.expires_at !== null && row.expires_at <= Date.now())) return undefined;
    return JSON.parse(row.payload) as ModelPayload;
  }

  async find(model: string, id: string): Promise<ModelPayload | undefined> {
    return this.#live(this.#prepare<[string, string], { payload: string; expires_at: number | null }>('SELECT payload, expires_at FROM models WHERE model = ? AND id = ?').get(model, id));
  }

  async findBy(model: string, field: 'userCode' | 'uid', value: string): Promise<ModelPayload | undefined> {
    const column = field === 'userCode' ? 'user_code' : 'uid';
    return this.#live(
      this.#prepare<[string, string], { payload: string; expires_at: number | null }>(`SELECT payload, expires_at FROM models WHERE model = ? AND ${column} = ?`).get(model, value),
    );
  }

  async consume(model: string, id: string): Promise<void> {
    const found = await this.find(model, id);
    if (!found) return;
    this.#prepare('UPDATE models SET payload = ? WHERE model = ? AND id = ?').run(JSON.stringify({ ...found, consumed: Math.floor(Date.now() / 1000) }), model, id);
  }

  async destroy(model: string, id: string): Promise<void> {
    this.#prepare('DELETE FROM models WHERE model = ? AND id = ?').run(model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#prepare('DELETE FROM models WHERE grant_id = ?').run(grantId);
  }

  async applyClient(event: { id: string; timeMs: number; clientId: string; status: 'active' | 'deleted'; data: Record<string, unknown> }): Promise<ClientApplyResult> {
    this.#applyClient ??= this.#db.transaction((event: Parameters<SqliteAsStore['applyClient']>[0]): ClientApplyResult => {
      const row = this.#prepare<[string], { event_time_ms: number; event_ids: string }>('SELECT event_time_ms, event_ids FROM clients WHERE client_id = ?').get(event.clientId);
      const ids = row ? (JSON.parse(row.event_ids) as string[]) : [];
      if (ids.includes(event.id)) return 'duplicate';
      if (row && event.timeMs < row.event_time_ms) return 'stale';
      this
        .#prepare('INSERT OR REPLACE INTO clients (client_id, status, data, event_time_ms, event_ids) VALUES (?, ?, ?, ?, ?)')
        .run(event.clientId, event.status, JSON.stringify(event.data), event.timeMs, JSON.stringify([...ids, event.id].slice(-REMEMBERED_IDS)));
      return 'applied';
    }).immediate; // the write lock first: the provisioner writes this file from another connection
    return this.#applyClient(event);
  }

  async getClient(clientId: string): Promise<AsClientRecord | null> {
    const row = this
      .#prepare<[string], { status: string; data: string; event_time_ms: number; event_ids: string }>('SELECT status, data, event_time_ms, event_ids FROM clients WHERE client_id = ?')
      .get(clientId);
    if (!row) return null;
    return {
      clientId,
      status: row.status === 'active' ? 'active' : 'deleted',
      data: JSON.parse(row.data) as Record<string, unknown>,
      eventTimeMs: row.event_time_ms,
      eventIds: JSON.parse(row.event_ids) as string[],
    };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

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
    const doc: Omit<ModelDoc, '_id'> = { model, payload, expiresAt: expiresAt(expiresIn) };
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

  async applyClient(event: { id: string; timeMs: number; clientId: string; status: 'active' | 'deleted'; data: Record<string, unknown> }): Promise<ClientApplyResult> {
    // Two writers (the event consumer, the provisioner's synchronous write): the replace is
    // conditional on the stored time, so a write that read an older state never undoes a newer one.
    const current = await this.#clients.findOne({ _id: event.clientId });
    if (current?.eventIds.includes(event.id)) return 'duplicate';
    if (current && event.timeMs < current.eventTimeMs) return 'stale';
    const doc = { status: event.status, data: event.data, eventTimeMs: event.timeMs, eventIds: [...(current?.eventIds ?? []), event.id].slice(-REMEMBERED_IDS) };
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

export async function openAsStore(config: Pick<Config, 'mongoUrl' | 'namespace' | 'dataDir'>): Promise<AsStore> {
  return config.mongoUrl ? MongoAsStore.connect(config.mongoUrl, config.namespace) : new SqliteAsStore(config.dataDir);
}
