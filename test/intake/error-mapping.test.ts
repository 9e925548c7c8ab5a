import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorsPlugin } from '../../platform/http/fastify-errors.js';
import { freeTcpPort } from '../../testkit/ports.js';

/** Real driver errors, raised by real outages, through the error handler every service uses. */
describe('error mapping: a backing service that is down is a 503 to retry, not a 500', () => {
  let app: FastifyInstance;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-errors-'));
    const file = join(dir, 'db.sqlite');
    const holder = new Database(file);
    holder.exec('CREATE TABLE t (v INTEGER)');
    const writer = new Database(file);
    writer.pragma('busy_timeout = 0');
    const closedPort = await freeTcpPort();
    app = Fastify({ logger: false });
    await app.register(errorsPlugin);
    app.get('/sqlite-locked', async () => {
      holder.exec('BEGIN IMMEDIATE');
      try {
        writer.prepare('INSERT INTO t (v) VALUES (1)').run(); // SqliteError SQLITE_BUSY
      } finally {
        holder.exec('ROLLBACK');
      }
      return { ok: true };
    });
    app.get('/mongo-down', async () => {
      const client = new MongoClient(`mongodb://127.0.0.1:${closedPort}/x`, { serverSelectionTimeoutMS: 200 });
      try {
        await client.db().collection('c').findOne({}); // MongoServerSelectionError
      } finally {
        await client.close();
      }
      return { ok: true };
    });
    app.get('/wrapped', async () => {
      throw new Error('stage could not store', { cause: Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }) });
    });
    app.get('/bug', async () => {
      throw new TypeError('undefined is not a function');
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [path, what] of [
    ['/sqlite-locked', 'a SQLite database locked by another connection (SQLITE_BUSY)'],
    ['/mongo-down', 'MongoDB unreachable (MongoServerSelectionError)'],
    ['/wrapped', 'an outage wrapped as the cause of another error'],
  ] as const) {
    it(`${what}: 503 temporarily_unavailable with Retry-After`, async () => {
      const res = await app.inject({ url: path });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('send the same request again') });
    });
  }

  it('a genuine fault is still 500 server_error, without its message', async () => {
    const res = await app.inject({ url: '/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'server_error', error_description: 'an internal error occurred; the request can be retried' });
    expect(res.body).not.toContain('undefined is not a function');
  });
});
