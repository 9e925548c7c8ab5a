// The reference gateway consumer keeps its client registry in step with dcr.client.v1: idempotent
// (dedupe by event id), ordered per client (older events lose), on both adapter sets.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeliveredEvent } from '../../core/ports/events.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startGatewaySync, type RunningGatewaySync } from '../../services/gateway-sync/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(adapterSets)('gateway-sync reference consumer, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let gateway: RunningGatewaySync;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline(infraUrls ? { infra: infraUrls } : {});
    gateway = await startGatewaySync(pipeline.rt);
    tpp = await pipeline.createTpp('gateway');
  });
  afterAll(async () => {
    await gateway?.stop();
    await pipeline?.stop();
  });

  async function register(): Promise<{ clientId: string; token: string }> {
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    const body = res.json<{ client_id: string; registration_access_token: string }>();
    return { clientId: body.client_id, token: body.registration_access_token };
  }

  const entry = (clientId: string) => () => gateway.registry.get(clientId);

  it.skipIf(skip)('a registration puts the client in the registry with its redirect_uris and auth method', async () => {
    const { clientId, token } = await register();
    const stored = await eventually(entry(clientId), (e) => e !== null);
    if (!stored) throw new Error('unreachable: eventually() returned an absent entry');
    expect(stored.status).toBe('active');
    expect(stored.client.redirect_uris).toEqual(tpp.credentials.redirectUris);
    expect(stored.client.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(stored.client.software_id).toBe(tpp.credentials.softwareId);
    expect(stored.client.org_id).toBe(tpp.sandbox.orgId);
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it.skipIf(skip)('the same event delivered twice changes nothing; an invalid event is skipped', async () => {
    const { clientId } = await register();
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
    const before = await eventually(entry(clientId), (e) => e !== null);

    expect(await gateway.sync.handle(created)).toBe('duplicate');
    expect(await gateway.sync.handle(structuredClone(created))).toBe('duplicate');
    expect(await gateway.registry.get(clientId)).toEqual(before);

    // A redelivered copy with different content but the same id is still a duplicate: ids are stable.
    const tampered: DeliveredEvent = { ...created, data: { ...created.data, redirect_uris: ['https://evil.example/cb'] } };
    expect(await gateway.sync.handle(tampered)).toBe('duplicate');
    // An event that breaks the contract (it carries a token) never reaches the registry.
    const leaking: DeliveredEvent = { ...created, id: `${created.id}-x`, time: new Date(Date.now() + 60_000).toISOString(), data: { ...created.data, registration_access_token: 'x' } };
    expect(await gateway.sync.handle(leaking)).toBe('invalid');
    expect(await gateway.registry.get(clientId)).toEqual(before);
  });

  it.skipIf(skip)('follows update and delete in order, and ignores an event older than the stored one', async () => {
    const { clientId, token } = await register();
    await eventually(entry(clientId), (e) => e !== null);
    const manage = (method: 'PUT' | 'DELETE', body?: string) =>
      httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, {
        method,
        identity: tpp.identity,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/jose' } : {}) },
        ...(body ? { body } : {}),
      });
    const newUris = [tpp.credentials.redirectUris[0] ?? ''];
    expect((await manage('PUT', await tpp.sign(tpp.claims({ redirect_uris: newUris, scope: 'openid accounts' })))).status).toBe(200);
    const updated = await eventually(entry(clientId), (e) => e?.client.scope === 'openid accounts');
    expect(updated?.client.redirect_uris).toEqual(newUris);

    expect((await manage('DELETE')).status).toBe(204);
    const deleted = await eventually(entry(clientId), (e) => e?.status === 'deleted');

    // A late copy of an older change (new id, older time) must not resurrect the client.
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
    const updateEvent = await pipeline.waitForEvent((e) => e.type === 'dcr.client.updated' && e.subject === clientId);
    expect(await gateway.sync.handle({ ...created, id: `${created.id}-late` })).toBe('stale');
    expect(await gateway.sync.handle({ ...updateEvent, id: `${updateEvent.id}-late` })).toBe('stale');
    expect(await gateway.registry.get(clientId)).toEqual(deleted);
  });

  it.skipIf(skip)('the registry survives a restart of the consumer, and a redelivery after it is a no-op', async () => {
    const { clientId } = await register();
    const before = await eventually(entry(clientId), (e) => e !== null);
    await gateway.stop();
    gateway = await startGatewaySync(pipeline.rt);
    expect(await gateway.registry.get(clientId)).toEqual(before);
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
    expect(await gateway.sync.handle(created)).toBe('duplicate');
  });
});
