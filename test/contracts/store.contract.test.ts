/**
 * The Store port (core/ports/store.ts) over the embedded SQLite store and the MongoDB store: the
 * guarantees the pipeline builds on. Compare-and-set transitions (a stale copy changes nothing), the
 * outbox written in the same atomic write as the transition (and not at all when it is refused), one
 * active client per software key, and idempotent inserts (a redelivered insert, a resubmission).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Client } from '../../core/domain/client.js';
import { clientEvent, registrationEvent, stageJob } from '../../core/domain/events.js';
import type { Registration } from '../../core/domain/registration.js';
import { SoftwareAlreadyRegistered, type Store } from '../../core/ports/store.js';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import { aRegistration } from '../support/registration.js';
import { mongoUrlOf, runContract, type Factory, type TempPlace } from './backends.js';
import { aClient } from '../support/client.js';

type Opened = { store: Store; close(): Promise<void> };

const verified = { ssa: { software_id: 'abc' }, metadata: { redirect_uris: ['https://tpp.example/cb'] }, signingKid: 'k1', softwareJwksUri: 'https://dir.example/jwks', orgId: 'o1', softwareId: 'abc' };


/** The suite, once; `open` opens the backend's store on a fresh `place()`. */
export function storeContract(open: Factory<Opened>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  let opened: Opened | undefined;
  let store: Store;

  beforeEach(async () => {
    place = await fresh();
    opened = await open(place);
    store = opened.store;
  });
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
    await place.release();
  });

  it('compare-and-set: an update from a stale copy is refused and changes nothing', async () => {
    const r = aRegistration('r-cas');
    await store.insertRegistration(r, []);
    const verifying = await store.updateRegistration(r, { set: { status: 'verifying' }, outbox: [] });
    expect(verifying).toMatchObject({ status: 'verifying', version: 1 });
    expect(await store.updateRegistration(r, { set: { status: 'failed', verified }, outbox: [] })).toBeNull();
    const stored = await store.getRegistration('r-cas');
    expect(stored).toMatchObject({ status: 'verifying', version: 1 });
    expect(stored).not.toHaveProperty('verified');
    // The winner's copy goes on; what an update returns is what a read gives back.
    const next = await store.updateRegistration(verifying as Registration, { set: { status: 'checking_revocation', verified } });
    expect(await store.getRegistration('r-cas')).toEqual(next);
  });

  it('the outbox entries are written with the transition, in order, and not at all when it is refused', async () => {
    const r = aRegistration('r-outbox');
    const received = registrationEvent('dcr.registration.received', r, new Date());
    await store.insertRegistration(r, [received, stageJob('verify', r.id, 0, new Date())]);
    const verifying = (await store.updateRegistration(r, { set: { status: 'verifying' } })) as Registration;
    const rejected = registrationEvent('dcr.registration.rejected', { ...verifying, status: 'rejected' }, new Date());
    const lost = registrationEvent('dcr.registration.rejected', { ...r, status: 'rejected' }, new Date());
    expect(await store.updateRegistration(r, { set: { status: 'rejected' }, outbox: [lost] })).toBeNull();
    expect(await store.updateRegistration(verifying, { set: { status: 'rejected' }, outbox: [rejected] })).not.toBeNull();

    const pending = await store.pendingOutbox(100);
    expect(pending.map((p) => [p.aggregate, p.aggregateId, p.entry.id])).toEqual([
      ['registration', r.id, received.id],
      ['registration', r.id, `${r.id}.verify.0`],
      ['registration', r.id, rejected.id],
    ]);
    expect((await store.pendingOutbox(100, 'job')).map((p) => p.entry.id)).toEqual([`${r.id}.verify.0`]);
    expect(await store.outboxPending('registration', r.id, lost.id)).toBe(false);

    await store.markPublished([{ aggregate: 'registration', aggregateId: r.id, id: received.id }]);
    expect(await store.outboxPending('registration', r.id, received.id)).toBe(false);
    expect(await store.outboxPending('registration', r.id, rejected.id)).toBe(true);
    expect((await store.pendingOutbox(100)).map((p) => p.entry.id)).toEqual([`${r.id}.verify.0`, rejected.id]);

    // A client's transition too: a stale version writes neither the change nor its event.
    const client = aClient('c-outbox');
    const created = clientEvent('dcr.client.created', client, new Date());
    await store.insertClient(client, [created]);
    const updated = clientEvent('dcr.client.updated', client, new Date());
    expect(await store.updateClient(client.clientId, 7, { set: { lastRequestId: 'stale' }, outbox: [updated] })).toBeNull();
    expect(await store.outboxPending('client', client.clientId, updated.id)).toBe(false);
    expect(await store.updateClient(client.clientId, 0, { set: { lastRequestId: 'next' }, outbox: [updated] })).toMatchObject({ lastRequestId: 'next', version: 1 });
    expect((await store.pendingOutbox(100)).filter((p) => p.aggregate === 'client').map((p) => p.entry.id)).toEqual([created.id, updated.id]);
  });

  it('one active client per software key: a second is refused until the first is deleted', async () => {
    const key = 'issuer sw-1';
    await store.insertClient(aClient('c-first', { activeSoftwareKey: key }), []);
    const error = await store.insertClient(aClient('c-second', { activeSoftwareKey: key }), []).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SoftwareAlreadyRegistered);
    expect(error).toMatchObject({ softwareKey: key, existingClientId: 'c-first' });
    expect(await store.getClient('c-second')).toBeNull();
    // Provisioning redelivered: the same client again is not a conflict.
    expect(await store.insertClient(aClient('c-first', { activeSoftwareKey: key }), [])).toMatchObject({ inserted: false, client: { clientId: 'c-first' } });

    const deleted = await store.updateClient('c-first', 0, { set: { status: 'deleted' } });
    expect(deleted?.status).toBe('deleted');
    expect(deleted?.activeSoftwareKey).toBeUndefined();
    expect(await store.insertClient(aClient('c-second', { activeSoftwareKey: key }), [])).toMatchObject({ inserted: true });
    expect((await store.getClient('c-second'))?.activeSoftwareKey).toBe(key);
  });

  it('a client being deleted (`deleting`) keeps its software key until it is `deleted`', async () => {
    const key = 'issuer sw-2';
    await store.insertClient(aClient('c-old', { activeSoftwareKey: key }), []);
    const at = new Date().toISOString();
    const deleting = await store.updateClient('c-old', 0, { set: { status: 'deleting', deleteRequestedAt: at, updatedAt: at } });
    expect(deleting).toMatchObject({ status: 'deleting', deleteRequestedAt: at, activeSoftwareKey: key, version: 1 });
    expect(await store.listClients({ status: 'deleting' })).toMatchObject([{ clientId: 'c-old', deleteRequestedAt: at }]);
    // The AS may still have the old client: a new registration of the software must wait.
    const error = await store.insertClient(aClient('c-new', { activeSoftwareKey: key }), []).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ softwareKey: key, existingClientId: 'c-old' });
    expect(error).toBeInstanceOf(SoftwareAlreadyRegistered);

    const deleted = await store.updateClient('c-old', 1, { set: { status: 'deleted' } });
    expect(deleted).toMatchObject({ status: 'deleted', deleteRequestedAt: at, version: 2 });
    expect(deleted?.activeSoftwareKey).toBeUndefined();
    expect(await store.listClients({ status: 'deleting' })).toEqual([]);
    expect(await store.insertClient(aClient('c-new', { activeSoftwareKey: key }), [])).toMatchObject({ inserted: true });
  });

  it('inserts are idempotent: a redelivered insert and a resubmission (same submission key) return the stored request', async () => {
    const r = aRegistration('r-idem');
    const event = registrationEvent('dcr.registration.received', r, new Date());
    expect(await store.insertRegistration(r, [event])).toEqual({ inserted: true, registration: r });
    const verifying = await store.updateRegistration(r, { set: { status: 'verifying' } });
    expect(await store.insertRegistration(r, [event])).toEqual({ inserted: false, registration: verifying });
    const resubmitted = aRegistration('r-idem-2', { submissionKey: r.submissionKey });
    expect(await store.insertRegistration(resubmitted, [registrationEvent('dcr.registration.received', resubmitted, new Date())])).toEqual({ inserted: false, registration: verifying });
    expect(await store.findRegistrationBySubmissionKey(r.submissionKey)).toEqual(verifying);
    expect(await store.getRegistration('r-idem-2')).toBeNull();
    expect((await store.pendingOutbox(100)).map((p) => p.entry.id)).toEqual([event.id]);
  });
}

runContract<Opened>(
  'Store',
  {
    embedded: async (place) => {
      const db = openEmbeddedDatabase(place.dataDir);
      return { store: new SqliteStore(db), close: () => db.close() };
    },
    distributed: () => async (place) => {
      const store = await MongoStore.connect(mongoUrlOf(place), place.namespace);
      return { store, close: () => store.close() };
    },
  },
  'MongoDB',
  storeContract,
);
