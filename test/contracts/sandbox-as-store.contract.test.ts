/**
 * The sandbox AS's AsStore port (core/ports/sandbox-as-store.ts) over SQLite and MongoDB, opened by
 * the runtime wiring (platform/runtime/service-stores.ts) from configuration: node-oidc-provider's
 * model documents (find, look-ups by uid and user code, consume, destroy, revoke a grant, expiry)
 * and the clients learned from `dcr.client.v1` (dedupe by event id, in order per client), seen by a
 * second handle as the AS and the provisioner each hold one. The AS around it: test/as/.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AsClientEvent, AsStore } from '../../core/ports/sandbox-as-store.js';
import { openAsStore } from '../../platform/runtime/service-stores.js';
import { mongoUrlOf, runContract, until, type Factory, type TempPlace } from './backends.js';

const client = (clientId: string, id: string, timeMs: number, status: 'active' | 'deleted' = 'active'): AsClientEvent => ({
  id,
  timeMs,
  clientId,
  status,
  data: { client_id: clientId, status, scope: `scope-${id}` },
});

export function asStoreContract(open: Factory<AsStore>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  const opened: AsStore[] = [];
  let store: AsStore;
  let other: AsStore;

  beforeEach(async () => {
    place = await fresh();
    store = await open(place);
    other = await open(place);
    opened.push(store, other);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await place.release();
  });

  it('stores model documents: find, look-ups by uid and user code, consume, destroy, and a grant revoked at once', async () => {
    await store.upsert('AccessToken', 't1', { jti: 't1', grantId: 'g1' }, 3600);
    await store.upsert('RefreshToken', 'r1', { jti: 'r1', grantId: 'g1' }, undefined);
    await store.upsert('Interaction', 'i1', { uid: 'u-1', userCode: 'UC-1' }, 600);
    await store.upsert('AccessToken', 't2', { jti: 't2', grantId: 'g2' }, 3600);
    expect(await other.find('AccessToken', 't1')).toEqual({ jti: 't1', grantId: 'g1' });
    expect(await other.find('RefreshToken', 't1')).toBeUndefined();
    expect(await other.findBy('Interaction', 'uid', 'u-1')).toEqual({ uid: 'u-1', userCode: 'UC-1' });
    expect(await other.findBy('Interaction', 'userCode', 'UC-1')).toEqual({ uid: 'u-1', userCode: 'UC-1' });
    expect(await other.findBy('Interaction', 'uid', 'u-none')).toBeUndefined();

    await store.consume('AccessToken', 't2');
    expect(await other.find('AccessToken', 't2')).toMatchObject({ jti: 't2', consumed: expect.any(Number) });
    await store.upsert('AccessToken', 't2', { jti: 't2', grantId: 'g2', replaced: true }, 3600);
    expect(await other.find('AccessToken', 't2')).toEqual({ jti: 't2', grantId: 'g2', replaced: true });

    await store.revokeByGrantId('g1');
    expect(await other.find('AccessToken', 't1')).toBeUndefined();
    expect(await other.find('RefreshToken', 'r1')).toBeUndefined();
    expect(await other.find('AccessToken', 't2')).toBeDefined();
    await store.destroy('AccessToken', 't2');
    expect(await other.find('AccessToken', 't2')).toBeUndefined();
  });

  it('a document with a lifetime is gone once it has passed', async () => {
    await store.upsert('Session', 's1', { uid: 'u-s1' }, 1);
    expect(await store.find('Session', 's1')).toEqual({ uid: 'u-s1' });
    await until('the session expired', () => store.find('Session', 's1'), (found) => found === undefined, 5000);
    expect(await other.findBy('Session', 'uid', 'u-s1')).toBeUndefined();
  });

  it('applies client events once and in order per client, across handles; a deleted client stays as a tombstone', async () => {
    expect(await other.getClient('c1')).toBeNull();
    expect(await store.applyClient(client('c1', 'e1', 1000))).toBe('applied');
    expect(await other.applyClient(client('c1', 'e1', 1000))).toBe('duplicate');
    expect(await other.applyClient(client('c1', 'e2', 3000))).toBe('applied');
    expect(await store.applyClient(client('c1', 'e-late', 2000))).toBe('stale');
    expect(await store.getClient('c1')).toEqual({ clientId: 'c1', status: 'active', data: client('c1', 'e2', 3000).data, eventTimeMs: 3000, eventIds: ['e1', 'e2'] });
    expect(await store.applyClient(client('c1', 'e3', 4000, 'deleted'))).toBe('applied');
    expect(await other.applyClient(client('c1', 'e-old', 3500))).toBe('stale');
    expect(await other.getClient('c1')).toMatchObject({ status: 'deleted', eventTimeMs: 4000 });
    // Two handles racing on a new client: one event is applied once, the other decided against it.
    const raced = await Promise.all([store.applyClient(client('c2', 'e5', 5000)), other.applyClient(client('c2', 'e5', 5000))]);
    expect(raced.sort()).toEqual(['applied', 'duplicate']);
  });
}

runContract<AsStore>(
  'AsStore (sandbox AS)',
  {
    embedded: (place) => openAsStore({ dataDir: place.dataDir, namespace: place.namespace }),
    distributed: () => (place) => openAsStore({ dataDir: place.dataDir, namespace: place.namespace, mongoUrl: mongoUrlOf(place) }),
  },
  'MongoDB',
  asStoreContract,
);
