/**
 * DCR_PROFILE=cdr and DCR_PROFILE=openfinance-br end to end: the sandbox directory issues that
 * ecosystem's SSA and certificate, the TPP client sends that profile's request (what `dcr register
 * --tpp` sends), and the RFC 7592 calls work with the profile's token kind (CDR: a client-credentials
 * token with scope cdr:registration from the sandbox AS; Brasil: the registration access token).
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { registrationClaimsFor, registrationRequestFor } from '../../sandbox/tpp-client/registration-request.js';
import { requestClientCredentials, startSandboxAs, type RunningSandboxAs } from '../../sandbox/sandbox-as/index.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];
const AUDIENCE = 'https://localhost:8443';

type Body = Record<string, unknown> & { client_id: string };

async function submit(pipeline: TestPipeline, profile: string, tpp: TestTpp, extra: Record<string, unknown> = {}): Promise<HttpResponse> {
  const request = await registrationRequestFor(profile, tpp.credentials, { ...registrationClaimsFor(profile, tpp.credentials, AUDIENCE), ...extra });
  return tpp.post(request.body, { 'content-type': request.contentType });
}

function manage(pipeline: TestPipeline, tpp: TestTpp, method: 'GET' | 'PUT' | 'DELETE', clientId: string, token: string, body?: { body: string; contentType: string }): Promise<HttpResponse> {
  return httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(clientId)}`, {
    method,
    identity: tpp.identity,
    headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...(body ? { 'content-type': body.contentType } : {}) },
    ...(body ? { body: body.body } : {}),
  });
}

describe.each(adapterSets)('DCR_PROFILE=cdr end to end with the sandbox Register and AS, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let as: RunningSandboxAs;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    const asPort = await freeTcpPort();
    const issuer = `https://localhost:${asPort}`;
    pipeline = await startTestPipeline({
      ...(infraUrls ? { infra: infraUrls } : {}),
      env: { DCR_PROFILE: 'cdr', DCR_AS_ISSUER: issuer, DCR_AS_JWKS_URL: `${issuer}/jwks` },
    });
    const tls = await pipeline.directory.issueServerCertificate(['localhost', '127.0.0.1']);
    as = await startSandboxAs(pipeline.rt, { host: '127.0.0.1', port: asPort, tls, clientCaPems: [pipeline.directory.caCertPem] });
    tpp = await pipeline.createTpp('recipient');
  });
  afterAll(async () => {
    await as?.stop();
    await pipeline?.stop();
  });

  it.skipIf(skip)('the sandbox issues a CDR Register SSA', () => {
    const ssa = decodeJwt(tpp.credentials.ssa);
    expect(ssa).toMatchObject({ iss: 'cdr-register', software_roles: 'data-recipient-software-product', software_id: tpp.sandbox.softwareId });
    expect(Number(ssa.exp) - Number(ssa.iat)).toBe(600);
    expect(String(ssa.scope).split(' ')).toContain('cdr:registration');
  });

  it.skipIf(skip)('registers once per software; management takes only a cdr:registration AS token; a deleted client frees the software', async () => {
    const res = await submit(pipeline, 'cdr', tpp);
    expect(res.status, res.text).toBe(201);
    const registered = res.json<Body & { registration_access_token: string }>();
    expect(registered.software_roles).toBe('data-recipient-software-product');
    expect(registered.request_object_signing_alg).toBe('PS256');
    expect(registered.authorization_signed_response_alg).toBe('PS256');

    const second = await submit(pipeline, 'cdr', tpp);
    expect(second.status).toBe(400);
    expect(second.json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(String(second.json().error_description)).toContain(registered.client_id);

    const withRat = await manage(pipeline, tpp, 'GET', registered.client_id, registered.registration_access_token);
    expect(withRat.status).toBe(401);
    expect(String(withRat.json().error_description)).toContain('cdr:registration');

    const tokenRes = await requestClientCredentials({
      tokenEndpoint: as.tokenEndpoint,
      clientId: registered.client_id,
      method: 'private_key_jwt',
      identity: tpp.identity,
      credentials: tpp.credentials,
      scope: 'cdr:registration',
    });
    expect(tokenRes.status, tokenRes.text).toBe(200);
    const accessToken = tokenRes.json<{ access_token: string }>().access_token;
    const read = await manage(pipeline, tpp, 'GET', registered.client_id, accessToken);
    expect(read.status, read.text).toBe(200);
    expect(read.json()).toMatchObject({ client_id: registered.client_id, software_roles: 'data-recipient-software-product' });
    expect(read.json()).not.toHaveProperty('registration_access_token');

    expect((await manage(pipeline, tpp, 'DELETE', registered.client_id, accessToken)).status).toBe(204);
    const again = await submit(pipeline, 'cdr', tpp);
    expect(again.status, again.text).toBe(201);
    expect(again.json<Body>().client_id).not.toBe(registered.client_id);
  });
});

describe.each(adapterSets)('DCR_PROFILE=openfinance-br end to end with the sandbox Brasil directory, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_PROFILE: 'openfinance-br' } });
    tpp = await pipeline.createTpp('iniciadora');
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it.skipIf(skip)('the sandbox issues a Brasil directory SSA and a certificate with UID and organizationIdentifier', () => {
    const ssa = decodeJwt(tpp.credentials.ssa);
    expect(ssa.iss).toBe('Open Banking Open Banking Brasil prod SSA issuer');
    expect(ssa.software_statement_roles).toEqual([
      { role: 'DADOS', authorisation_domain: 'Open Banking', status: 'Active' },
      { role: 'PAGTO', authorisation_domain: 'Open Banking', status: 'Active' },
    ]);
    expect(ssa.software_api_webhook_uris).toEqual(['https://iniciadora.example.com/webhook']);
    expect(tpp.sandbox.transportSubjectDn).toBe(`CN=iniciadora.example.com,UID=${tpp.sandbox.softwareId},2.5.4.97=OFBBR-${tpp.sandbox.orgId},O=Sandbox TPP,C=BR`);
  });

  it.skipIf(skip)('registers with webhook_uris (returned, in the event), once per software; GET and PUT with the never-rotated registration access token', async () => {
    const webhooks = ['https://iniciadora.example.com/webhook'];
    const res = await submit(pipeline, 'openfinance-br', tpp, { webhook_uris: webhooks });
    expect(res.status, res.text).toBe(201);
    const registered = res.json<Body & { registration_access_token: string }>();
    expect(registered.webhook_uris).toEqual(webhooks);
    expect(registered.grant_types).toContain('implicit');
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === registered.client_id);
    expect(created.data.webhook_uris).toEqual(webhooks);

    const second = await submit(pipeline, 'openfinance-br', tpp, { webhook_uris: undefined });
    expect(second.status).toBe(400);
    expect(String(second.json().error_description)).toContain(registered.client_id);

    const token = registered.registration_access_token;
    const read = await manage(pipeline, tpp, 'GET', registered.client_id, token);
    expect(read.status).toBe(200);
    expect(read.json()).toMatchObject({ registration_access_token: token, registration_client_uri: registered.registration_client_uri, webhook_uris: webhooks });

    const update = await registrationRequestFor('openfinance-br', tpp.credentials, { ...registrationClaimsFor('openfinance-br', tpp.credentials, AUDIENCE), client_id: registered.client_id });
    const put = await manage(pipeline, tpp, 'PUT', registered.client_id, token, update);
    expect(put.status, put.text).toBe(200);
    expect(put.json()).toMatchObject({ client_id: registered.client_id, registration_access_token: token });
    expect(put.json()).toMatchObject({ webhook_uris: webhooks }); // what the client sends by default: the SSA's webhook URIs
  });

  it.skipIf(skip)('a webhook URI the SSA does not list: 400 invalid_webhook_uris', async () => {
    const other = await pipeline.createTpp('receptora');
    const res = await submit(pipeline, 'openfinance-br', other, { webhook_uris: ['https://elsewhere.example.com/hook'] });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_webhook_uris' });
    expect(String(res.json().error_description)).toContain('software_api_webhook_uris');
  });
});
