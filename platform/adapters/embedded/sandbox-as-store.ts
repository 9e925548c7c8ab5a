import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  AS_STORE_REMEMBERED_IDS,
  modelExpiresAt,
  type AsClientEvent,
  type AsClientRecord,
  type AsStore,
  type ClientApplyResult,
  type ModelPayload,
} from '../../../core/ports/sandbox-as-store.js';

/** Embedded: `DCR_DATA_DIR/sandbox-as.sqlite`. */
export class SqliteAsStore implements AsStore {
  readonly #db: Database.Database;
  /** Prepared once per SQL text (a prepare per call showed up in bench/count-statements.ts). */
  readonly #statements = new Map<string, Database.Statement>();
  #applyClient: ((event: AsClientEvent) => ClientApplyResult) | undefined;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(join(dataDir, 'sandbox-as.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    // The sandbox AS stands in for the bank's, on the caller's event loop: no fsync inside each COMMIT
    // (the default FULL blocked the loop once per provisioned client). In WAL mode NORMAL keeps every
    // commit across a crash of the process (SIGKILL: the chaos and crash tests); only an OS crash or
    // a power loss can take the last ones, which a sandbox may lose.
    this.#db.pragma('synchronous = NORMAL');
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
      .run(model, id, JSON.stringify(payload), str(payload.grantId), str(payload.userCode), str(payload.uid), modelExpiresAt(expiresIn));
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

  async applyClient(event: AsClientEvent): Promise<ClientApplyResult> {
    this.#applyClient ??= this.#db.transaction((event: AsClientEvent): ClientApplyResult => {
      const row = this.#prepare<[string], { event_time_ms: number; event_ids: string }>('SELECT event_time_ms, event_ids FROM clients WHERE client_id = ?').get(event.clientId);
      const ids = row ? (JSON.parse(row.event_ids) as string[]) : [];
      if (ids.includes(event.id)) return 'duplicate';
      if (row && event.timeMs < row.event_time_ms) return 'stale';
      this
        .#prepare('INSERT OR REPLACE INTO clients (client_id, status, data, event_time_ms, event_ids) VALUES (?, ?, ?, ?, ?)')
        .run(event.clientId, event.status, JSON.stringify(event.data), event.timeMs, JSON.stringify([...ids, event.id].slice(-AS_STORE_REMEMBERED_IDS)));
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
