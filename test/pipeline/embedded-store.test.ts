import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPACTABLE_CONDITION, IN_FLIGHT_CONDITION, openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { RetentionPurger } from '../../core/retention/purger.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import type { Registration } from '../../core/domain/registration.js';
import { aRegistration } from '../support/registration.js';

const at = '2026-03-01T00:00:00.000Z';

function registration(id: string): Registration {
  return aRegistration(id, {
    body: 'eyJhbGciOiJQUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6ImFiYyJ9.c2ln',
    certificate: { pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', thumbprint: 't', subjectDn: 'CN=x', issuerDn: 'CN=ca', serialNumber: '01', tppIdentity: 'org' },
    submittedAt: at,
  });
}

const verified = { ssa: { software_id: 'abc' }, metadata: { redirect_uris: ['https://tpp.example/cb'] }, signingKid: 'k1', softwareJwksUri: 'https://dir.example/jwks', orgId: 'o1', softwareId: 'abc' };

describe('embedded store: the registration record and its parts', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-store-'));
    db = openEmbeddedDatabase(dir);
    store = new SqliteStore(db);
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const row = (id: string) => db.sqlite.prepare<[string], { doc: string }>('SELECT doc FROM registrations WHERE id = ?').get(id);
  const parts = (id: string) =>
    Object.fromEntries(db.sqlite.prepare<[string], { part: string; value: string }>('SELECT part, value FROM registration_parts WHERE id = ? ORDER BY part').all(id).map((p) => [p.part, JSON.parse(p.value) as unknown]));

  it('keeps the request, certificate, verifier output and outcome out of the record that every transition rewrites', async () => {
    const r = registration('r1');
    await store.insertRegistration(r, []);
    expect(Object.keys(parts('r1')).sort()).toEqual(['body', 'certificate']);
    expect(JSON.parse(row('r1')?.doc ?? '{}')).not.toHaveProperty('body');

    const verifying = await store.updateRegistration(r, { set: { status: 'verifying', updatedAt: at } });
    const checked = await store.updateRegistration(verifying as Registration, { set: { status: 'checking_revocation', verified, updatedAt: at } });
    const done = await store.updateRegistration(checked as Registration, { set: { status: 'registered', outcome: { response: { client_id: 'c1' } }, updatedAt: at } });

    const record = JSON.parse(row('r1')?.doc ?? '{}') as Record<string, unknown>;
    for (const member of ['body', 'certificate', 'verified', 'outcome']) expect(record).not.toHaveProperty(member);
    expect(record).toMatchObject({ status: 'registered', version: 3 });
    expect(parts('r1')).toEqual({ body: r.body, certificate: r.certificate, verified, outcome: { response: { client_id: 'c1' } } });
    // What the update returned is what a read gives back.
    expect(await store.getRegistration('r1')).toEqual(done);
    expect(done).toMatchObject({ body: r.body, certificate: r.certificate, verified, status: 'registered' });
  });

  it('stores a part set to null as null, and a later value again as a part', async () => {
    const r = registration('r2');
    await store.insertRegistration(r, []);
    const rejected = await store.updateRegistration(r, { set: { status: 'rejected', outcome: { error: 'invalid_redirect_uri' } } });
    const replayed = await store.updateRegistration(rejected as Registration, { set: { status: 'received', outcome: null } });
    expect(parts('r2')).not.toHaveProperty('outcome');
    expect(await store.getRegistration('r2')).toEqual(replayed);
    expect(replayed?.outcome).toBeNull();
    const again = await store.updateRegistration(replayed as Registration, { set: { outcome: { error: 'invalid_client_metadata' } } });
    expect(await store.getRegistration('r2')).toEqual(again);
  });

  it('lists registrations with their parts', async () => {
    await store.insertRegistration(registration('r4'), []);
    const [listed] = await store.listRegistrations({});
    expect(listed).toEqual(registration('r4'));
  });
});

describe('embedded database: migration of records written before the parts table', () => {
  it('moves the large members of existing records into their parts, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-migrate-'));
    try {
      // A database as an earlier release left it: the whole registration in `doc`, user_version 0.
      const old = new Database(join(dir, 'dcr.sqlite'));
      old.exec(`CREATE TABLE registrations (id TEXT PRIMARY KEY, submission_key TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
                submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_error TEXT, version INTEGER NOT NULL, doc TEXT NOT NULL)`);
      const whole: Registration = { ...registration('old'), status: 'registered', version: 5, verified, outcome: { response: { client_id: 'c9' } }, clientId: 'c9' };
      const rejected: Registration = { ...registration('old-rejected'), submissionKey: 'k2', status: 'rejected', outcome: null, verified: null };
      for (const r of [whole, rejected]) {
        old.prepare('INSERT INTO registrations VALUES (?, ?, ?, ?, ?, NULL, ?, ?)').run(r.id, r.submissionKey, r.status, r.submittedAt, r.updatedAt, r.version, JSON.stringify(r));
      }
      old.close();

      const db = openEmbeddedDatabase(dir);
      try {
        const store = new SqliteStore(db);
        expect(await store.getRegistration('old')).toEqual(whole);
        expect(await store.getRegistration('old-rejected')).toEqual(rejected);
        const doc = JSON.parse(db.sqlite.prepare<[], { doc: string }>("SELECT doc FROM registrations WHERE id = 'old'").get()?.doc ?? '{}') as Record<string, unknown>;
        expect(doc).not.toHaveProperty('body');
        expect(doc).not.toHaveProperty('verified');
        expect(db.sqlite.pragma('user_version', { simple: true })).toBe(6);
        // 6: the delete sweep's clients left `deleting` come from an index, not a scan of every client.
        const sweep = db.sqlite.prepare<[], { detail: string }>("EXPLAIN QUERY PLAN SELECT doc FROM clients WHERE status = 'deleting' ORDER BY doc ->> '$.createdAt' DESC, client_id DESC LIMIT 50").all();
        expect(sweep.map((p) => p.detail).join()).toContain('USING INDEX clients_status');
        // 4: the per-TPP quota's index holds only requests in progress, and the quota's count uses it.
        const indexes = db.sqlite.prepare<[], { name: string; partial: number }>("SELECT name, partial FROM pragma_index_list('registrations')").all();
        expect(indexes).toContainEqual({ name: 'registrations_tpp_in_flight', partial: 1 });
        expect(indexes.map((i) => i.name)).not.toContain('registrations_tpp');
        const plan = db.sqlite.prepare<[string], { detail: string }>(`EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM registrations WHERE tpp = ? AND ${IN_FLIGHT_CONDITION}`).all('x');
        expect(plan.map((p) => p.detail).join()).toContain('USING COVERING INDEX registrations_tpp_in_flight');
        expect(await store.countInFlight(whole.certificate.tppIdentity)).toBe(0);
        await store.insertRegistration({ ...registration('new'), submissionKey: 'k3' }, []);
        expect(await store.countInFlight(whole.certificate.tppIdentity)).toBe(1);
        // 2: the submitter's identity as a column, filled in for existing records (the per-TPP quota).
        expect(db.sqlite.prepare<[], { tpp: string | null }>("SELECT tpp FROM registrations WHERE id = 'old'").get()?.tpp).toBe(whole.certificate.tppIdentity);
        // Carries on from there: an update of a migrated record keeps its parts.
        const next = await store.updateRegistration(whole, { set: { updatedAt: '2026-04-01T00:00:00.000Z' } });
        expect(await store.getRegistration('old')).toEqual(next);
        expect(next?.body).toBe(whole.body);
      } finally {
        await db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('embedded store: retention on a backlog', () => {
  const policy = { rejectedSeconds: 86_400, resultTtlSeconds: 86_400, auditSeconds: 157_788_000, intervalMs: 0 };
  // A day after `at`: every request of the backlog is past the token delivery window.
  const passAt = Date.parse(at) + 2 * 86_400_000;
  let dir: string;
  let db: EmbeddedDatabase;
  let store: SqliteStore;
  /** Each call of the store's purgeRetention (a round), in order: what it compacted. */
  let rounds: number[];
  /** Runs before each round (the round's number, from 1). */
  let beforeRound: (round: number) => void;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-retention-'));
    db = openEmbeddedDatabase(dir);
    store = new SqliteStore(db);
    // 250 registered requests, never compacted: r000 … r249.
    for (let i = 0; i < 250; i++) {
      await store.insertRegistration({ ...registration(`r${String(i).padStart(3, '0')}`), submissionKey: `k${i}`, status: 'registered', verified, sealedToken: 'sealed', clientId: `c${i}` }, []);
    }
    rounds = [];
    beforeRound = () => {};
    const purge = store.purgeRetention.bind(store);
    store.purgeRetention = async (cutoffs) => {
      beforeRound(rounds.length + 1);
      const report = await purge(cutoffs);
      rounds.push(report.compacted);
      return report;
    };
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('compacts in rounds of its batch, each reading only requests not compacted yet, and leaves the compacted ones out of the index', async () => {
    const compactable = () => db.sqlite.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM registrations INDEXED BY registrations_compactable WHERE ${COMPACTABLE_CONDITION}`).get()?.n;
    expect(compactable()).toBe(250);
    const purger = new RetentionPurger(store, policy, { owner: 'test', batch: 100, pauseMs: 0 });
    const report = await purger.runOnce(passAt);
    expect(report).toEqual({ deleted: 0, compacted: 250, jtis: 0 });
    expect(rounds).toEqual([100, 100, 50]);
    expect(compactable()).toBe(0);
    const stored = await store.getRegistration('r007');
    expect(stored).toMatchObject({ status: 'registered', sealedToken: null, verified: null });
    expect(db.sqlite.prepare<[string], { compacted_at: string | null }>('SELECT compacted_at FROM registrations WHERE id = ?').get('r007')?.compacted_at).toBe(stored?.compactedAt);
    // A second pass finds nothing to do, without reading the 250 it compacted.
    expect(await purger.runOnce(passAt)).toEqual({ deleted: 0, compacted: 0, jtis: 0 });
    expect(rounds.slice(3)).toEqual([0]);
  });

  it('renews its lease every 100 rounds, and stops when another instance holds it', async () => {
    const purger = new RetentionPurger(store, policy, { owner: 'me', batch: 2, pauseMs: 0 });
    // Another instance takes the lease (ours lapsed, say) in the middle of the pass.
    beforeRound = (round) => {
      if (round === 50) db.sqlite.prepare("UPDATE leases SET owner = 'other', expires_at = ? WHERE name = 'retention-purge'").run(Date.now() + 600_000);
    };
    const report = await purger.runOnce(passAt);
    expect(rounds).toHaveLength(100);
    expect(report?.compacted).toBe(200);
    expect(db.sqlite.prepare<[], { owner: string }>("SELECT owner FROM leases WHERE name = 'retention-purge'").get()?.owner).toBe('other');
  });
});
