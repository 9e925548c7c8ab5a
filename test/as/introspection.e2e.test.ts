/**
 * Opaque AS access tokens on the management endpoints, checked by RFC 7662 introspection at the
 * sandbox AS (embedded adapters; the JWT path runs on both sets in obie-conformance-flow).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { requestClientCredentials, startSandboxAs, type RunningSandboxAs } from '../../sandbox/sandbox-as/index.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('opaque AS tokens by introspection (DCR_AS_INTROSPECTION_URL)', () => {
  let pipeline: TestPipeline;
  let as: RunningSandboxAs;
  let tpp: TestTpp;
  const introspectionClient = { clientId: 'dcr-intake', clientSecret: randomBytes(24).toString('base64url') };

  beforeAll(async () => {
    const asPort = await freeTcpPort();
    const issuer = `https://localhost:${asPort}`;
    pipeline = await startTestPipeline({
      env: {
        DCR_AS_ISSUER: issuer,
        DCR_AS_INTROSPECTION_URL: `${issuer}/token/introspection`,
        DCR_AS_INTROSPECTION_CLIENT_ID: introspectionClient.clientId,
        DCR_AS_INTROSPECTION_CLIENT_SECRET: introspectionClient.clientSecret,
      },
    });
    const tls = await pipeline.directory.issueServerCertificate(['localhost', '127.0.0.1']);
    as = await startSandboxAs(pipeline.rt, {
      host: '127.0.0.1',
      port: asPort,
      tls,
      clientCaPems: [pipeline.directory.caCertPem],
      accessTokenFormat: 'opaque',
      introspectionClient,
    });
    tpp = await pipeline.createTpp('opaque');
  });
  afterAll(async () => {
    await as?.stop();
    await pipeline?.stop();
  });

  function manage(method: 'GET' | 'DELETE', clientId: string, token: string): Promise<HttpResponse> {
    return httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, { method, identity: tpp.identity, headers: { authorization: `Bearer ${token}` } });
  }

  it('an active opaque token of the client opens it; another client, a made-up token, a deleted client: 401', async () => {
    const register = async () => {
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status).toBe(201);
      return res.json<{ client_id: string }>().client_id;
    };
    const clientId = await register();
    const second = await register();
    const res = await eventually(
      () => requestClientCredentials({ tokenEndpoint: as.tokenEndpoint, clientId, method: 'private_key_jwt', identity: tpp.identity, credentials: tpp.credentials }),
      (r) => r.status === 200,
    );
    expect(res.status, res.text).toBe(200);
    const token = res.json<{ access_token: string }>().access_token;
    expect(token.split('.')).toHaveLength(1);

    // Introspection goes through the allow-listed outbound fetcher (counted here), and its answers
    // are cached: repeating a made-up token, or the good one, asks the AS once per token.
    const introspectionUrl = pipeline.env.DCR_AS_INTROSPECTION_URL;
    const fetcher = pipeline.rt.fetcher;
    const original = fetcher.request.bind(fetcher);
    let introspections = 0;
    fetcher.request = (url, init) => {
      if (url === introspectionUrl && init.method === 'POST') introspections++;
      return original(url, init);
    };
    const madeUp = randomBytes(32).toString('base64url');
    try {
      expect((await manage('GET', clientId, token)).status).toBe(200);
      expect((await manage('GET', second, token)).status).toBe(401);
      for (let i = 0; i < 5; i++) expect((await manage('GET', clientId, madeUp)).status).toBe(401);
      expect((await manage('GET', clientId, token)).status).toBe(200);
      expect(introspections).toBe(2);
    } finally {
      fetcher.request = original;
    }
    expect((await manage('DELETE', clientId, token)).status).toBe(204);
    expect((await manage('GET', clientId, token)).status).toBe(401);
  });
});
