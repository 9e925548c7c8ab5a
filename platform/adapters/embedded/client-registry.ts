import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClientEventData } from '../../../core/events/schemas.js';
import type { ClientEvent } from '../../../core/events/validate.js';
import { REGISTRY_REMEMBERED_IDS, type ApplyResult, type ClientRegistry, type RegistryEntry } from '../../../core/ports/client-registry.js';

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
      this.#upsert.run(clientId, status, JSON.stringify(event.data), event.time, timeMs, JSON.stringify([...ids, event.id].slice(-REGISTRY_REMEMBERED_IDS)));
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
