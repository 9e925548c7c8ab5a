/**
 * The gateway-sync ClientRegistry port (core/ports/client-registry.ts) over SQLite and MongoDB, opened
 * by the runtime wiring (platform/runtime/service-stores.ts) from configuration: an event is applied
 * once (dedupe by event id), in order per client (an older event loses, whatever its id), a deletion
 * stays as a tombstone, and what is applied survives a reopen (another process, a restart).
 * The consumer around it (validation, subscription) is test/consumers/gateway-sync.test.ts.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TOPICS } from '../../core/domain/events.js';
import type { ClientRegistry } from '../../core/ports/client-registry.js';
import { isClientEvent, validateEvent, type ClientEvent } from '../../core/events/validate.js';
import { openClientRegistry } from '../../platform/runtime/service-stores.js';
import { mongoUrlOf, runContract, type Factory, type TempPlace } from './backends.js';

let serial = 0;

/** A `dcr.client.*` event that passes the v1 contract. */
function event(clientId: string, time: string, overrides: { type?: 'dcr.client.created' | 'dcr.client.updated' | 'dcr.client.deleted'; id?: string; scope?: string } = {}): ClientEvent {
  const type = overrides.type ?? 'dcr.client.updated';
  const checked = validateEvent({
    specversion: '1.0',
    id: overrides.id ?? `01JDCR${String((serial += 1)).padStart(20, '0')}`,
    type,
    source: 'urn:dcr:provisioner',
    subject: clientId,
    time,
    datacontenttype: 'application/json',
    topic: TOPICS.client,
    data: {
      client_id: clientId,
      status: type === 'dcr.client.deleted' ? 'deleted' : 'active',
      client_id_issued_at: 1_790_000_000,
      software_id: 'sw-1',
      org_id: 'org-1',
      software_roles: ['AISP'],
      scope: overrides.scope ?? 'openid accounts',
      redirect_uris: ['https://tpp.example/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://keystore.example/org-1/sw-1.jwks',
    },
  });
  if (!checked.valid || !isClientEvent(checked.event)) throw new Error(`test fixture breaks the contract: ${JSON.stringify(checked)}`);
  return checked.event;
}

export function clientRegistryContract(open: Factory<ClientRegistry>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  const opened: ClientRegistry[] = [];
  let registry: ClientRegistry;

  beforeEach(async () => {
    place = await fresh();
    registry = await open(place);
    opened.push(registry);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((r) => r.close()));
    await place.release();
  });

  it('applies an event once: the same id again is a duplicate, even with other content', async () => {
    const created = event('c1', '2026-11-25T12:00:00.000Z', { type: 'dcr.client.created' });
    expect(await registry.get('c1')).toBeNull();
    expect(await registry.apply(created)).toBe('applied');
    const stored = await registry.get('c1');
    expect(stored).toEqual({ clientId: 'c1', status: 'active', client: created.data, eventTime: created.time });
    expect(await registry.apply(created)).toBe('duplicate');
    expect(await registry.apply({ ...created, data: { ...created.data, scope: 'openid payments' } })).toBe('duplicate');
    expect(await registry.get('c1')).toEqual(stored);
  });

  it('applies in order per client: an older event loses, a newer one wins, a deletion stays as a tombstone', async () => {
    expect(await registry.apply(event('c2', '2026-11-25T12:00:00.000Z', { type: 'dcr.client.created' }))).toBe('applied');
    const update = event('c2', '2026-11-25T12:05:00.000Z', { scope: 'openid payments' });
    expect(await registry.apply(update)).toBe('applied');
    expect(await registry.apply(event('c2', '2026-11-25T12:01:00.000Z', { scope: 'openid late' }))).toBe('stale');
    expect((await registry.get('c2'))?.client.scope).toBe('openid payments');
    const deleted = event('c2', '2026-11-25T12:10:00.000Z', { type: 'dcr.client.deleted' });
    expect(await registry.apply(deleted)).toBe('applied');
    expect(await registry.apply(event('c2', '2026-11-25T12:06:00.000Z'))).toBe('stale');
    expect(await registry.get('c2')).toMatchObject({ status: 'deleted', eventTime: deleted.time });
    // Another client is its own order.
    expect(await registry.apply(event('c3', '2026-11-25T11:00:00.000Z'))).toBe('applied');
  });

  it('keeps what it applied across a reopen, and still knows the event ids', async () => {
    const created = event('c4', '2026-11-25T12:00:00.000Z', { type: 'dcr.client.created' });
    await registry.apply(created);
    await registry.close();
    opened.splice(opened.indexOf(registry), 1);
    registry = await open(place);
    opened.push(registry);
    expect(await registry.get('c4')).toEqual({ clientId: 'c4', status: 'active', client: created.data, eventTime: created.time });
    expect(await registry.apply(created)).toBe('duplicate');
  });
}

runContract<ClientRegistry>(
  'ClientRegistry',
  {
    embedded: (place) => openClientRegistry({ dataDir: place.dataDir, namespace: place.namespace }),
    distributed: () => (place) => openClientRegistry({ dataDir: place.dataDir, namespace: place.namespace, mongoUrl: mongoUrlOf(place) }),
  },
  'MongoDB',
  clientRegistryContract,
);
