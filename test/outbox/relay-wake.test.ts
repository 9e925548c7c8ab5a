/**
 * Issue 15 item 3: every committed outbox entry wakes the relay, the client's own included. The
 * relay's idle poll is set to an hour here, so an event that reaches a consumer was published by a
 * wake-up, never by the poll: without the provisioner's kick after the client insert (and the
 * intake's after a DELETE), the test would wait for its event until it times out.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

describe.each(adapterSets)('the outbox relay is woken by every commit that wrote events, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_RELAY_INTERVAL_MS: '3600000' } });
    tpp = await pipeline.createTpp('wake');
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it.skipIf(skip)('the dcr.client.created event of a registration and the dcr.client.deleted event of its DELETE are published without a poll', async () => {
    expect(pipeline.rt.config.relayIntervalMs).toBe(3_600_000);
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    const { client_id: clientId, registration_access_token: token } = res.json<{ client_id: string; registration_access_token: string }>();
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId, 15_000);
    expect(created.data).toMatchObject({ client_id: clientId, status: 'active' });

    const del = await httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, { method: 'DELETE', identity: tpp.identity, headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(204);
    const deleted = await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === clientId, 15_000);
    expect(deleted.data).toMatchObject({ client_id: clientId, status: 'deleted' });
    // Each change has one event, whose id derives from the change (stable across attempts).
    expect(pipeline.events.filter((e) => e.subject === clientId).map((e) => e.type)).toEqual(['dcr.client.created', 'dcr.client.deleted']);
  });
});
