import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { hashToken } from '../../platform/crypto/token-sealer.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

describe.each(adapterSets)('registration end to end, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline(infraUrls ? { infra: infraUrls } : {});
    tpp = await pipeline.createTpp('acme');
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it.skipIf(skip)('registers a valid OBIE 3.3 request: 201, stored client, dcr.client.created', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    const body = res.json();
    expect(body.client_id).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(typeof body.registration_access_token).toBe('string');
    expect(body.registration_client_uri).toBe(`https://localhost:8443/register/${String(body.client_id)}`);
    expect(res.headers.location).toBe(body.registration_client_uri);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(body.software_statement).toBe(tpp.credentials.ssa);
    expect(body.software_id).toBe(tpp.credentials.softwareId);
    expect(body.redirect_uris).toEqual(tpp.credentials.redirectUris);
    expect(body.token_endpoint_auth_method).toBe('private_key_jwt');

    const client = await pipeline.rt.adapters.store.getClient(String(body.client_id));
    expect(client?.status).toBe('active');
    expect(client?.softwareId).toBe(tpp.credentials.softwareId);
    // The token is stored only as its hash.
    expect(client?.tokenHash).toBe(hashToken(String(body.registration_access_token)));
    expect(JSON.stringify(client)).not.toContain(String(body.registration_access_token));

    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === body.client_id);
    expect(created.data.software_id).toBe(tpp.credentials.softwareId);
    expect(created.data.redirect_uris).toEqual(tpp.credentials.redirectUris);
    expect(JSON.stringify(created)).not.toContain(String(body.registration_access_token));
    await pipeline.waitForEvent((e) => e.type === 'dcr.registration.verified');
  });

  it.skipIf(skip)('rejects an SSA not signed by the directory: 400 invalid_software_statement', async () => {
    const { privateKey } = await generateKeyPair('PS256');
    const [h, p] = tpp.credentials.ssa.split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as { kid: string };
    const forged = await new SignJWT(JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>)
      .setProtectedHeader({ alg: 'PS256', kid: header.kid, typ: 'JWT' })
      .sign(privateKey);
    const res = await tpp.post(await tpp.sign(tpp.claims({ software_statement: forged })));
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_software_statement' });
    expect(String(res.json().error_description)).toContain('signature');
  });

  it.skipIf(skip)('rejects a request not signed by the software key: 400 invalid_client_metadata', async () => {
    const { privateKey } = await generateKeyPair('PS256', { extractable: true });
    const jwt = await new SignJWT(tpp.claims()).setProtectedHeader({ alg: 'PS256', kid: tpp.credentials.kid, typ: 'JWT' }).sign(privateKey);
    const res = await tpp.post(jwt);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(await exportJWK(privateKey)).toBeTruthy();
  });

  it.skipIf(skip)('rejects a wrong aud: 400 invalid_client_metadata naming aud', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims({ aud: 'https://other-bank.example' })));
    expect(res.status).toBe(400);
    const body = res.json();
    expect(body.error).toBe('invalid_client_metadata');
    expect(String(body.error_description)).toContain('aud');
  });

  it.skipIf(skip)('refuses a request without a client certificate: 401 JSON', async () => {
    const res = await httpsRequest(`${pipeline.intakeUrl}/register`, {
      method: 'POST',
      body: await tpp.sign(tpp.claims()),
      headers: { 'content-type': 'application/jwt' },
      identity: { caPem: pipeline.directory.caCertPem },
    });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it.skipIf(skip)('refuses a body that is not a compact JWS at intake: 400 without recording', async () => {
    const res = await tpp.post('not-a-jws');
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_client_metadata');
    const wrongType = await tpp.post(await tpp.sign(tpp.claims()), { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.json().error).toBe('invalid_request');
  });

  it.skipIf(skip)('answers 202 with Prefer: respond-async, then polling shows registered', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const { request_id: requestId, status } = res.json<{ request_id: string; status: string }>();
    expect(status).toBe('received');
    expect(res.headers.location).toBe(`/register/requests/${requestId}`);
    let polled = await tpp.get(`/register/requests/${requestId}`);
    for (let i = 0; i < 200 && polled.json().status !== 'registered'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      polled = await tpp.get(`/register/requests/${requestId}`);
    }
    expect(polled.status).toBe(200);
    const body = polled.json<{ status: string; client_id: string; registration: Record<string, unknown> }>();
    expect(body.status).toBe('registered');
    expect(body.registration.client_id).toBe(body.client_id);

    // Another organisation cannot see it.
    const other = await pipeline.createTpp();
    expect((await other.get(`/register/requests/${requestId}`)).status).toBe(404);
  });

  it.skipIf(skip)('is idempotent for the very same JWS, and refuses a reused jti with another body', async () => {
    const claims = tpp.claims();
    const jws = await tpp.sign(claims);
    const first = await tpp.post(jws);
    const second = await tpp.post(jws);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.json().client_id).toBe(first.json().client_id);
    const replay = await tpp.post(await tpp.sign({ ...claims, scope: 'openid accounts' }));
    expect(replay.status).toBe(400);
    expect(replay.json().error).toBe('invalid_client_metadata');
    expect(String(replay.json().error_description)).toContain('jti');
  });

  it.skipIf(skip)('rejects an SSA of a revoked organisation: 400 unapproved_software_statement', async () => {
    const revoked = await pipeline.createTpp();
    await pipeline.directory.revokeOrganisation(revoked.sandbox.orgId);
    const ssa = await pipeline.directory.issueSsa(revoked.sandbox.name);
    const res = await revoked.post(await revoked.sign(revoked.claims({ software_statement: ssa })));
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('unapproved_software_statement');
    const rejected = await pipeline.waitForEvent((e) => e.type === 'dcr.registration.rejected' && e.data.error === 'unapproved_software_statement');
    expect(rejected.data.request_id).toBeTruthy();
  });

  it.skipIf(skip)('serves discovery and health without a client certificate', async () => {
    const discovery = await httpsRequest(`${pipeline.intakeUrl}/.well-known/openid-configuration`, { identity: { caPem: pipeline.directory.caCertPem } });
    expect(discovery.status).toBe(200);
    const doc = discovery.json<Record<string, unknown>>();
    expect(doc.registration_endpoint).toBe('https://localhost:8443/register');
    expect((doc.request_object_signing_alg_values_supported as string[])[0]).toBe('PS256');
    const ready = await httpsRequest(`${pipeline.intakeUrl}/health/ready`, { identity: { caPem: pipeline.directory.caCertPem } });
    expect(ready.status).toBe(200);
  });
});

describe('trace context', () => {
  let pipeline: TestPipeline;
  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('carries the request traceparent from the intake to the registration and client events', async () => {
    const tpp = await pipeline.createTpp();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await tpp.post(await tpp.sign(tpp.claims()), { traceparent });
    expect(res.status).toBe(201);
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === res.json().client_id);
    expect(created.traceparent).toBe(traceparent);
    expect(created.data.traceparent).toBeUndefined();
    const received = pipeline.events.find((e) => e.type === 'dcr.registration.received' && e.traceparent === traceparent);
    expect(received?.data.request_id).toBeTruthy();
  });
});
