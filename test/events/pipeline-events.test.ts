// Every event a real pipeline run emits validates against its v1 JSON Schema, and none of them
// carries the registration access token.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EVENT_TYPES } from '../../core/events/schemas.js';
import { validateEvent } from '../../core/events/validate.js';
import { replayRegistration } from '../../core/pipeline/replay.js';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

function manage(pipeline: TestPipeline, tpp: TestTpp, method: 'PUT' | 'DELETE', clientId: string, token: string, body?: string): Promise<HttpResponse> {
  return httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(clientId)}`, {
    method,
    identity: tpp.identity,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/jose' } : {}) },
    ...(body ? { body } : {}),
  });
}

describe.each(adapterSets)('events of a pipeline run against the v1 contract, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  const tokens: string[] = [];

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline(infraUrls ? { infra: infraUrls } : {});
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it.skipIf(skip)('register, reject, update, delete, fail and replay: every event validates against its type\'s schema', async () => {
    const tpp = await pipeline.createTpp('contract');
    const created = await tpp.post(await tpp.sign(tpp.claims()));
    expect(created.status).toBe(201);
    const { client_id: clientId, registration_access_token: token } = created.json<{ client_id: string; registration_access_token: string }>();
    tokens.push(token);

    const rejected = await tpp.post(await tpp.sign(tpp.claims({ aud: 'https://other-bank.example' })));
    expect(rejected.status).toBe(400);

    const updated = await manage(pipeline, tpp, 'PUT', clientId, token, await tpp.sign(tpp.claims({ scope: 'openid accounts' })));
    expect(updated.status).toBe(200);
    const deleted = await manage(pipeline, tpp, 'DELETE', clientId, token);
    expect(deleted.status).toBe(204);

    // A registration that fails for a reason outside the TPP's control: the directory is down.
    // Then an operator replays it: dcr.registration.replayed, and the client is created after all.
    const unlucky = await pipeline.createTpp('unlucky');
    let requestId: string;
    await pipeline.directory.setOutage(true);
    try {
      const accepted = await unlucky.post(await unlucky.sign(unlucky.claims()), { prefer: 'respond-async' });
      expect(accepted.status).toBe(202);
      requestId = accepted.json<{ request_id: string }>().request_id;
      await pipeline.waitForEvent((e) => e.type === 'dcr.registration.failed' && e.subject === requestId, 30_000);
    } finally {
      await pipeline.directory.setOutage(false);
    }
    const replay = await replayRegistration(pipeline.rt.adapters.store, pipeline.rt.dispatcher, requestId, { actor: 'contract-test', onCommitted: () => pipeline.rt.kickRelay() });
    expect(replay.replayed).toBe(true);
    await pipeline.waitForEvent((e) => e.type === 'dcr.registration.replayed' && e.subject === requestId);
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.data.software_id === unlucky.credentials.softwareId, 30_000);

    for (const type of ['dcr.client.created', 'dcr.client.updated', 'dcr.client.deleted']) {
      await pipeline.waitForEvent((e) => e.type === type && e.subject === clientId);
    }
    await pipeline.waitForEvent((e) => e.type === 'dcr.registration.rejected' && e.data.error === 'invalid_client_metadata');

    const seen = new Set(pipeline.events.map((e) => e.type));
    for (const type of EVENT_TYPES) expect(seen, type).toContain(type);
    for (const event of pipeline.events) {
      const result = validateEvent(event);
      expect(result.valid ? [] : result.errors, `${event.type} ${event.id}`).toEqual([]);
      for (const t of tokens) expect(JSON.stringify(event)).not.toContain(t);
    }
    // Ids are unique: consumers dedupe on them.
    expect(new Set(pipeline.events.map((e) => e.id)).size).toBe(pipeline.events.length);
  });
});
