import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashToken } from '../../platform/crypto/token-sealer.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { ProvisioningStage } from '../../services/provisioner/stage.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

type Registered = Record<string, unknown> & { client_id: string; registration_access_token: string };

/** RFC 7592 calls on `/register/{client_id}` with the TPP's transport certificate. */
function manage(pipeline: TestPipeline, tpp: TestTpp, method: 'GET' | 'PUT' | 'DELETE', clientId: string, options: { token?: string | null; authorization?: string; body?: string; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/jose';
  return httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(clientId)}`, {
    method,
    identity: tpp.identity,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
}

async function register(tpp: TestTpp): Promise<Registered> {
  const res = await tpp.post(await tpp.sign(tpp.claims()));
  expect(res.status).toBe(201);
  return res.json<Registered>();
}

/** Polls a condition until it holds or the deadline passes (no fixed sleeps as synchronisation). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function clientEvents(pipeline: TestPipeline, clientId: string): DeliveredEvent[] {
  return pipeline.events.filter((e) => e.type.startsWith('dcr.client.') && e.subject === clientId);
}

describe.each(adapterSets)('RFC 7592 client management end to end, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let other: TestTpp;
  const redirectUris = ['https://acme.example.com/callback', 'https://acme.example.com/other-callback'];

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline(infraUrls ? { infra: infraUrls } : {});
    tpp = await pipeline.createTpp('acme', { redirectUris });
    other = await pipeline.createTpp('globex');
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it.skipIf(skip)('GET answers 200 with the stored registration and the presented token, not cached (DCR-005, RFC 7592 §3)', async () => {
    const registered = await register(tpp);
    const res = await manage(pipeline, tpp, 'GET', registered.client_id, { token: registered.registration_access_token });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(String(res.headers['content-type'])).toContain('application/json');
    const body = res.json();
    // RFC 7592 §3: the client information response carries registration_access_token and
    // registration_client_uri; not rotated by a read, so the token presented.
    expect(body).toEqual(registered);
    expect(body.registration_client_uri).toBe(`https://localhost:8443/register/${registered.client_id}`);
    const { registration_access_token: _token, ...withoutToken } = body;
    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(withoutToken).toEqual(stored?.metadata);
    expect(stored?.metadata).not.toHaveProperty('registration_access_token');
  });

  it.skipIf(skip)('GET without a usable Bearer token: 401 invalid_token with WWW-Authenticate (DCR-007, RFC 6750 §3)', async () => {
    const registered = await register(tpp);
    const noHeader = await manage(pipeline, tpp, 'GET', registered.client_id);
    expect(noHeader.status).toBe(401);
    expect(noHeader.headers['www-authenticate']).toBe('Bearer realm="dcr"');
    expect(noHeader.json()).toMatchObject({ error: 'invalid_token' });
    expect(typeof noHeader.json().error_description).toBe('string');

    const empty = await manage(pipeline, tpp, 'GET', registered.client_id, { authorization: 'Bearer ' });
    expect(empty.status).toBe(401);
    expect(String(empty.headers['www-authenticate'])).toMatch(/^Bearer .*/);
    expect(String(empty.headers['www-authenticate'])).not.toContain('error=');
    expect(empty.json()).toMatchObject({ error: 'invalid_token' });

    // The issued token with its last character changed (to a different one: a token ending in 'x' stays wrong).
    const issued = registered.registration_access_token;
    const wrong = await manage(pipeline, tpp, 'GET', registered.client_id, { token: `${issued.slice(0, -1)}${issued.endsWith('x') ? 'y' : 'x'}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="dcr", error="invalid_token"');
    expect(wrong.json()).toMatchObject({ error: 'invalid_token' });

    const basic = await manage(pipeline, tpp, 'GET', registered.client_id, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
    expect(basic.status).toBe(401);
    expect(basic.json()).toMatchObject({ error: 'invalid_token' });

    // An unknown client looks exactly like a wrong token.
    const unknown = await manage(pipeline, tpp, 'GET', 'NoSuchClient0000000000', { token: registered.registration_access_token });
    expect(unknown.status).toBe(401);
    expect(unknown.headers['www-authenticate']).toBe('Bearer realm="dcr", error="invalid_token"');
    expect(unknown.json()).toEqual(wrong.json());

    // Another client's token does not open this one.
    const second = await register(tpp);
    const crossed = await manage(pipeline, tpp, 'GET', registered.client_id, { token: second.registration_access_token });
    expect(crossed.status).toBe(401);
  });

  it.skipIf(skip)('GET/PUT/DELETE with the right token but another TPP\'s certificate: 403; without a certificate: 401', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    const get = await manage(pipeline, other, 'GET', registered.client_id, { token });
    expect(get.status).toBe(403);
    expect(get.json()).toMatchObject({ error: 'access_denied' });
    const put = await manage(pipeline, other, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims()) });
    expect(put.status).toBe(403);
    const del = await manage(pipeline, other, 'DELETE', registered.client_id, { token });
    expect(del.status).toBe(403);
    // Another TPP with a wrong token learns nothing more than 401.
    expect((await manage(pipeline, other, 'GET', registered.client_id, { token: 'wrong' })).status).toBe(401);

    const noCertificate = await httpsRequest(`${pipeline.intakeUrl}/register/${registered.client_id}`, {
      headers: { authorization: `Bearer ${token}` },
      identity: { caPem: pipeline.directory.caCertPem },
    });
    expect(noCertificate.status).toBe(401);
    expect(noCertificate.json()).toMatchObject({ error: 'invalid_client' });

    // The client is untouched.
    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(stored?.status).toBe('active');
    expect(stored?.version).toBe(0);
  });

  it.skipIf(skip)('PUT with fresh claims (new jti, no client_id): 200, the client changes, dcr.client.updated (DCR-008)', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    expect(registered.redirect_uris).toEqual(redirectUris);
    const claims = tpp.claims({ redirect_uris: [redirectUris[1]], scope: 'openid accounts' });
    expect(claims).not.toHaveProperty('client_id');
    const res = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(claims) });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.client_id).toBe(registered.client_id);
    expect(body.client_id_issued_at).toBe(registered.client_id_issued_at);
    expect(body.registration_client_uri).toBe(registered.registration_client_uri);
    expect(body.redirect_uris).toEqual([redirectUris[1]]);
    expect(body.scope).toBe('openid accounts');
    // RFC 7592 §3: the update response carries the token; not rotated, so the one presented.
    expect(body.registration_access_token).toBe(token);

    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    const { registration_access_token: _token, ...withoutToken } = body;
    expect(stored?.metadata).toEqual(withoutToken);
    expect(stored?.version).toBe(1);
    expect(stored?.requestId).not.toBe(stored?.lastRequestId);
    // No rotation by default: the same token still manages the client and reads the new metadata.
    expect(stored?.tokenHash).toBe(hashToken(token));
    const read = await manage(pipeline, tpp, 'GET', registered.client_id, { token });
    expect(read.status).toBe(200);
    expect(read.json()).toEqual(body);

    const updated = await pipeline.waitForEvent((e) => e.type === 'dcr.client.updated' && e.subject === registered.client_id);
    expect(updated.data.redirect_uris).toEqual([redirectUris[1]]);
    expect(updated.data.scope).toBe('openid accounts');
    expect(updated.data.status).toBe('active');
    expect(JSON.stringify(updated)).not.toContain(token);

    // The update went through the pipeline as a request of kind 'update' for this client.
    const request = await pipeline.rt.adapters.store.getRegistration(String(stored?.lastRequestId));
    expect(request).toMatchObject({ kind: 'update', clientId: registered.client_id, status: 'registered' });
    const verified = await pipeline.waitForEvent((e) => e.type === 'dcr.registration.verified' && e.subject === request?.id);
    expect(verified.data).toMatchObject({ kind: 'update', client_id: registered.client_id });
  });

  it.skipIf(skip)('PUT applies the RFC 7592 update rules: client_id must match, no server-managed members', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    const matching = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims({ client_id: registered.client_id })) });
    expect(matching.status).toBe(200);

    const mismatch = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims({ client_id: 'SomeOtherClient' })) });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json().error).toBe('invalid_client_metadata');
    expect(String(mismatch.json().error_description)).toContain('client_id');

    const managed = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims({ registration_access_token: token })) });
    expect(managed.status).toBe(400);
    expect(String(managed.json().error_description)).toContain('registration_access_token');
    expect(managed.text).not.toContain(token);
  });

  it.skipIf(skip)('PUT cannot move a client to another software: the verifier compares with the stored client', async () => {
    const registered = await register(tpp);
    const { store } = pipeline.rt.adapters;
    // As if the client had been registered by another software of this organisation.
    const client = await store.getClient(registered.client_id);
    expect(await store.updateClient(registered.client_id, client!.version, { set: { softwareId: 'OtherSoftware01' } })).not.toBeNull();
    const res = await manage(pipeline, tpp, 'PUT', registered.client_id, { token: registered.registration_access_token, body: await tpp.sign(tpp.claims()) });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_client_metadata');
    expect(String(res.json().error_description)).toContain('software_id');
    expect((await store.getClient(registered.client_id))?.metadata).toEqual(client?.metadata);
  });

  it.skipIf(skip)('PUT reusing an old jti: 400 invalid_client_metadata, the client unchanged', async () => {
    const claims = tpp.claims();
    const res = await tpp.post(await tpp.sign(claims));
    expect(res.status).toBe(201);
    const registered = res.json<Registered>();
    const replay = await manage(pipeline, tpp, 'PUT', registered.client_id, {
      token: registered.registration_access_token,
      body: await tpp.sign({ ...claims, scope: 'openid accounts' }),
    });
    expect(replay.status).toBe(400);
    expect(replay.json().error).toBe('invalid_client_metadata');
    expect(String(replay.json().error_description)).toContain('jti');
    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(stored?.version).toBe(0);
    expect(stored?.metadata.scope).toBe(registered.scope);
  });

  it.skipIf(skip)('PUT checks the token before the body: a bad body without a token is 401, with one 400/415', async () => {
    const registered = await register(tpp);
    const unauthenticated = await manage(pipeline, tpp, 'PUT', registered.client_id, { body: 'not-a-jws', headers: { 'content-type': 'text/plain' } });
    expect(unauthenticated.status).toBe(401);
    const token = registered.registration_access_token;
    const notJws = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: 'not-a-jws' });
    expect(notJws.status).toBe(400);
    expect(notJws.json().error).toBe('invalid_client_metadata');
    const wrongType = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims()), headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
    expect(wrongType.json().error).toBe('invalid_request');
  });

  it.skipIf(skip)('PUT with Prefer: respond-async answers 202, then the request settles as registered', async () => {
    const registered = await register(tpp);
    const res = await manage(pipeline, tpp, 'PUT', registered.client_id, {
      token: registered.registration_access_token,
      body: await tpp.sign(tpp.claims({ scope: 'openid payments' })),
      headers: { prefer: 'respond-async' },
    });
    expect(res.status).toBe(202);
    const { request_id: requestId } = res.json<{ request_id: string }>();
    expect(res.headers.location).toBe(`/register/requests/${requestId}`);
    const polled = await eventually(
      () => tpp.get(`/register/requests/${requestId}`),
      (r) => r.json().status === 'registered',
    );
    const body = polled.json<{ status: string; client_id: string; registration: Record<string, unknown> }>();
    expect(body.status).toBe('registered');
    expect(body.client_id).toBe(registered.client_id);
    expect(body.registration.scope).toBe('openid payments');
  });

  it.skipIf(skip)('a redelivered update provisioning job changes nothing twice', async () => {
    const registered = await register(tpp);
    const res = await manage(pipeline, tpp, 'PUT', registered.client_id, { token: registered.registration_access_token, body: await tpp.sign(tpp.claims({ scope: 'openid' })) });
    expect(res.status).toBe(200);
    const client = await pipeline.rt.adapters.store.getClient(registered.client_id);
    const request = await pipeline.rt.adapters.store.getRegistration(String(client?.lastRequestId));
    expect(request?.status).toBe('registered');
    const { rt } = pipeline;
    const stage = new ProvisioningStage({ profile: rt.profile, store: rt.adapters.store, sealer: rt.sealer, publicUrl: rt.config.publicUrl, as: await rt.authorizationServer(), applyWaitMs: 1000 });
    // The work itself, as a redelivered job would run it: it finds the update applied.
    const again = await stage.run({ ...request!, status: 'provisioning' });
    expect(again.set?.outcome?.response).toEqual(client?.metadata);
    const after = await rt.adapters.store.getClient(registered.client_id);
    expect(after?.version).toBe(client?.version);
    // And the runner skips a duplicate job of a settled request.
    const runner = new StageRunner(stage, stageRunnerDeps(rt));
    await runner.handle({ requestId: request!.id, generation: request!.generation }, { attempt: 1, maxAttempts: 3, jobId: `${request!.id}.provision.0` });
    expect((await rt.adapters.store.getClient(registered.client_id))?.version).toBe(client?.version);
  });

  it.skipIf(skip)('DELETE answers 204 with an empty body; afterwards GET, PUT and DELETE are 401 (DCR-003, DCR-009, DCR-010)', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    const del = await manage(pipeline, tpp, 'DELETE', registered.client_id, { token });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');

    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(stored?.status).toBe('deleted');

    const get = await manage(pipeline, tpp, 'GET', registered.client_id, { token });
    expect(get.status).toBe(401);
    expect(get.headers['www-authenticate']).toBe('Bearer realm="dcr", error="invalid_token"');
    expect(get.json()).toMatchObject({ error: 'invalid_token' });
    const put = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims()) });
    expect(put.status).toBe(401);
    expect(put.json()).toMatchObject({ error: 'invalid_token' });
    const again = await manage(pipeline, tpp, 'DELETE', registered.client_id, { token });
    expect(again.status).toBe(401);

    const deleted = await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === registered.client_id);
    expect(deleted.data).toMatchObject({ client_id: registered.client_id, status: 'deleted', software_id: tpp.credentials.softwareId });
    expect(JSON.stringify(deleted)).not.toContain(token);
    // One delete, one event; and the PUT after it recorded no update request.
    const latest = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(latest?.version).toBe(stored?.version);
    expect(latest?.lastRequestId).toBe(stored?.lastRequestId);
  });

  it.skipIf(skip)('concurrent DELETEs of one client write one deletion', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    const answers = await Promise.all([1, 2, 3].map(() => manage(pipeline, tpp, 'DELETE', registered.client_id, { token })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toContain(204);
    expect(statuses.every((s) => s === 204 || s === 401)).toBe(true);
    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(stored).toMatchObject({ status: 'deleted', version: 2 }); // the intent (deleting), then deleted
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === registered.client_id);
  });

  it.skipIf(skip)('events for one client arrive in order: created, updated, deleted', async () => {
    const registered = await register(tpp);
    const token = registered.registration_access_token;
    const put = await manage(pipeline, tpp, 'PUT', registered.client_id, { token, body: await tpp.sign(tpp.claims({ scope: 'openid accounts' })) });
    expect(put.status).toBe(200);
    expect((await manage(pipeline, tpp, 'DELETE', registered.client_id, { token })).status).toBe(204);
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === registered.client_id);
    const seen = clientEvents(pipeline, registered.client_id);
    expect(seen.map((e) => e.type)).toEqual(['dcr.client.created', 'dcr.client.updated', 'dcr.client.deleted']);
    expect(new Set(seen.map((e) => e.id)).size).toBe(3);
  });

  it.skipIf(skip)('serves an OpenAPI 3.1 document at /openapi.json without a client certificate', async () => {
    const res = await httpsRequest(`${pipeline.intakeUrl}/openapi.json`, { identity: { caPem: pipeline.directory.caCertPem } });
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('application/json');
    const doc = res.json<{
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown>; security?: unknown[]; requestBody?: { content: Record<string, unknown> } }>>;
      components: { securitySchemes: Record<string, { type: string }> };
    }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/register', '/register/{client_id}', '/register/requests/{requestId}']));
    const management = doc.paths['/register/{client_id}'] ?? {};
    expect(Object.keys(management).sort()).toEqual(['delete', 'get', 'put']);
    for (const operation of Object.values(management)) {
      expect(operation.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'client_id', in: 'path' })]));
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      expect(operation.security).toEqual([{ registrationAccessToken: [], mutualTls: [] }]);
    }
    expect(Object.keys(management.get?.responses ?? {})).toContain('200');
    expect(Object.keys(management.delete?.responses ?? {})).toContain('204');
    expect(Object.keys(management.put?.requestBody?.content ?? {})).toEqual(expect.arrayContaining(['application/jwt', 'application/jose']));
    const post = doc.paths['/register']?.post;
    expect(Object.keys(post?.requestBody?.content ?? {})).toEqual(expect.arrayContaining(['application/jwt', 'application/jose']));
    expect(Object.keys(post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '202', '400']));
    expect(doc.components.securitySchemes.registrationAccessToken?.type).toBe('http');
    expect(doc.components.securitySchemes.mutualTls?.type).toBe('mutualTLS');
    expect(doc.paths).not.toHaveProperty('/openapi.json');
  });
});

describe.each(adapterSets)('RFC 7592 update with registration access token rotation, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), stages: false });
    const { rt } = pipeline;
    const provisioner = new ProvisioningStage({ profile: rt.profile, store: rt.adapters.store, sealer: rt.sealer, publicUrl: rt.config.publicUrl, rotateTokenOnUpdate: true, as: await rt.authorizationServer(), applyWaitMs: 1000 });
    const consumer = new StageRunner(provisioner, stageRunnerDeps(rt)).start(1);
    for (const s of [await startVerifier(rt), startRevocation(rt)]) stops.push(() => s.stop());
    stops.push(() => consumer.close());
    tpp = await pipeline.createTpp('rotor');
  });
  afterAll(async () => {
    await Promise.all(stops.map((s) => s()));
    await pipeline?.stop();
  });

  it.skipIf(skip)('returns a new token on update; the old one stops working', async () => {
    const registered = await register(tpp);
    const oldToken = registered.registration_access_token;
    const res = await manage(pipeline, tpp, 'PUT', registered.client_id, { token: oldToken, body: await tpp.sign(tpp.claims({ scope: 'openid accounts' })) });
    expect(res.status).toBe(200);
    const body = res.json<Registered>();
    expect(typeof body.registration_access_token).toBe('string');
    expect(body.registration_access_token).not.toBe(oldToken);
    const stored = await pipeline.rt.adapters.store.getClient(registered.client_id);
    expect(stored?.tokenHash).toBe(hashToken(body.registration_access_token));
    expect(stored?.metadata).not.toHaveProperty('registration_access_token');
    expect((await manage(pipeline, tpp, 'GET', registered.client_id, { token: oldToken })).status).toBe(401);
    expect((await manage(pipeline, tpp, 'GET', registered.client_id, { token: body.registration_access_token })).status).toBe(200);
    const updated = await pipeline.waitForEvent((e) => e.type === 'dcr.client.updated' && e.subject === registered.client_id);
    expect(JSON.stringify(updated)).not.toContain(body.registration_access_token);
  });
});
