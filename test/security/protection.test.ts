import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SandboxDirectory, type SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { FAPI_TLS12_CIPHERS } from '../../services/intake/app.js';
import { errorsPlugin } from '../../platform/http/fastify-errors.js';
import { protectionPlugin } from '../../services/intake/plugins/protection.js';
import { healthRoutes } from '../../services/intake/routes/health.js';
import { openRateLimitStore } from '../../platform/runtime/service-stores.js';
import { startIntake } from '../../services/intake/service.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls | undefined;

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; error: string };

/** One raw TLS handshake against the intake; resolves with what was negotiated or the failure. */
function handshake(url: string, options: ConnectionOptions): Promise<Handshake> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), servername: 'localhost', rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      const result: Handshake = { ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: `${err.code ?? ''} ${err.message}` }));
  });
}

describe('intake protections', () => {
  let pipeline: TestPipeline;
  let a: TestTpp;
  let b: TestTpp;
  let foreign: SandboxTpp;
  let otherDir: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { DCR_RATE_LIMIT_PER_MINUTE: '5' }, stages: false });
    [a, b] = await Promise.all([pipeline.createTpp('rla'), pipeline.createTpp('rlb')]);
    otherDir = await mkdtemp(join(tmpdir(), 'dcr-sec-other-'));
    const other = await SandboxDirectory.open({ dataDir: otherDir, baseUrl: 'https://localhost:1' });
    foreign = await other.createTpp('foreign');
  });

  afterAll(async () => {
    await pipeline?.stop();
    if (otherDir) await rm(otherDir, { recursive: true, force: true });
  });

  it('rate-limits one TPP after N requests a minute with a JSON 429 and Retry-After; another TPP and health are unaffected', async () => {
    const path = '/.well-known/openid-configuration';
    for (let i = 0; i < 5; i++) expect((await a.get(path)).status).toBe(200);
    const limited = await a.get(path);
    expect(limited.status).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'slow_down', error_description: expect.stringMatching(/too many requests/) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The bucket is the TPP (certificate identity), not the route: a management call is limited too.
    expect((await a.get(`/register/requests/${crypto.randomUUID()}`)).status).toBe(429);
    // Same address, other TPP: its own bucket.
    const other = await b.get(path);
    expect(other.status).toBe(200);
    // Health checks are exempt, with or without the limited certificate.
    for (let i = 0; i < 7; i++) expect((await a.get('/health/live')).status).toBe(200);
  });

  it('accepts TLS 1.3 and TLS 1.2 with a FAPI cipher suite', async () => {
    const tls13 = await handshake(pipeline.intakeUrl, { minVersion: 'TLSv1.3' });
    expect(tls13).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    const tls12 = await handshake(pipeline.intakeUrl, { maxVersion: 'TLSv1.2', ciphers: FAPI_TLS12_CIPHERS.join(':') });
    expect(tls12).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    expect(FAPI_TLS12_CIPHERS).toContain(tls12.ok ? tls12.cipher : '');
  });

  it('refuses TLS 1.1 and non-FAPI TLS 1.2 cipher suites at the handshake', async () => {
    const tls11 = await handshake(pipeline.intakeUrl, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls11).toMatchObject({ ok: false, error: expect.stringMatching(/protocol version|unsupported protocol|no protocols available/i) });
    for (const cipher of ['AES128-SHA256', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES256-SHA']) {
      const r = await handshake(pipeline.intakeUrl, { maxVersion: 'TLSv1.2', ciphers: cipher });
      expect(r, cipher).toMatchObject({ ok: false, error: expect.stringMatching(/handshake failure|no shared cipher|no ciphers available/i) });
    }
  });

  it('bounds slow clients: handshake, header and request timeouts are set on the listener', async () => {
    const running = await startIntake(pipeline.rt, { listen: false });
    try {
      await running.app.ready();
      expect(running.app.server.headersTimeout).toBe(10_000);
      expect(running.app.server.requestTimeout).toBe(30_000);
      expect(running.app.server.keepAliveTimeout).toBe(5_000);
      expect(running.app.initialConfig.connectionTimeout).toBe(30_000);
    } finally {
      await running.stop();
    }
  });

  it('answers router and HTTP-parser errors as JSON {error, error_description} too', async () => {
    const ca = { caPem: pipeline.directory.caCertPem };
    const badEncoding = await httpsRequest(`${pipeline.intakeUrl}/register/requests/%zz`, { identity: ca });
    expect(badEncoding.status).toBe(400);
    expect(badEncoding.json()).toMatchObject({ error: 'invalid_request', error_description: 'malformed URL' });
    const longId = await httpsRequest(`${pipeline.intakeUrl}/register/${'a'.repeat(500)}`, { identity: ca });
    expect(longId.status).toBe(414);
    expect(longId.json()).toMatchObject({ error: 'invalid_request' });
    // A request line Node's parser refuses (a raw byte outside the URL grammar), on a raw TLS socket.
    const u = new URL(pipeline.intakeUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: u.hostname, port: Number(u.port), servername: 'localhost', ca: pipeline.directory.caCertPem }, () => {
        socket.end(Buffer.concat([Buffer.from('GET /register/'), Buffer.from([0x7f, 0x01]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]));
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'invalid_request', error_description: 'malformed HTTP request' });
  });

  it('answers 401 JSON to a client certificate of another CA', async () => {
    const res = await httpsRequest(`${pipeline.intakeUrl}/register`, {
      method: 'POST',
      body: 'x.y.z',
      headers: { 'content-type': 'application/jwt' },
      identity: { certPem: foreign.transportCertPem, keyPem: foreign.transportKeyPem, caPem: pipeline.directory.caCertPem },
    });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_client' });
    const read = await httpsRequest(`${pipeline.intakeUrl}/register/${'c'.repeat(22)}`, {
      headers: { authorization: 'Bearer x' },
      identity: { certPem: foreign.transportCertPem, keyPem: foreign.transportKeyPem, caPem: pipeline.directory.caCertPem },
    });
    expect(read.status).toBe(401);
  });
});

describe('proxy header trust boundary', () => {
  it('ignores an RFC 9440 Client-Cert header from a peer that is not a configured proxy', async () => {
    const pipeline = await startTestPipeline({ env: { DCR_CLIENT_CERT_HEADER: 'client-cert', DCR_TRUSTED_PROXIES: '10.255.255.1' }, stages: false });
    try {
      const tpp = await pipeline.createTpp('proxied');
      const der = new X509Certificate(tpp.identity.certPem).raw.toString('base64');
      // A genuine certificate of a registered TPP, but forwarded by someone who is not the proxy.
      const res = await httpsRequest(`${pipeline.intakeUrl}/register`, {
        method: 'POST',
        body: await tpp.sign(tpp.claims()),
        headers: { 'content-type': 'application/jwt', 'client-cert': `:${der}:` },
        identity: { caPem: pipeline.directory.caCertPem },
      });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
    } finally {
      await pipeline.stop();
    }
  });
});

describe('load shedding', () => {
  it('answers 503 JSON with Retry-After while the process is over its configured limit; health still answers', async () => {
    // A heap limit of 1 byte: the first pressure sample trips it, with no timing involved.
    const pipeline = await startTestPipeline({ env: { DCR_MAX_HEAP_USED_BYTES: '1' }, stages: false });
    const tpp = await pipeline.createTpp('shed');
    // A second intake app on the same runtime and configuration, to observe its pressure state.
    const running = await startIntake(pipeline.rt, { listen: false });
    try {
      await running.app.ready();
      // Wait for the sampler's first pass (a condition, not a fixed sleep).
      while (!running.app.isUnderPressure()) await new Promise((r) => setImmediate(r));
      const shed = await running.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
      expect(shed.statusCode).toBe(503);
      expect(shed.json()).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/overloaded/) });
      expect(shed.headers['retry-after']).toBe('5');
      expect((await running.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      // The listening intake of the pipeline sheds too, over mTLS, before reading the body.
      let res = await tpp.post('x.y.z');
      while (res.status !== 503) res = await tpp.post('x.y.z');
      expect(res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res.headers['retry-after']).toBe('5');
      expect((await tpp.get('/health/ready')).status).toBe(200);
    } finally {
      await running.stop();
      await pipeline.stop();
    }
  });
});

describe.runIf(infra)('rate limit counters in Redis', () => {
  const build = async (namespace: string): Promise<FastifyInstance> => {
    const app = Fastify();
    await app.register(errorsPlugin);
    await app.register(protectionPlugin, { rateLimitPerMinute: 4, maxEventLoopDelayMs: 0, rateLimitStore: await openRateLimitStore({ redisUrl: infra?.redisUrl ?? '', namespace }) });
    await app.register(healthRoutes, { ready: async () => undefined });
    app.get('/ping', async () => ({ ok: true }));
    await app.ready();
    return app;
  };

  it('shares one budget across intake instances', async () => {
    const namespace = `rl${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const [one, two] = await Promise.all([build(namespace), build(namespace)]);
    try {
      const statuses: number[] = [];
      for (const app of [one, two, one, two, one, two]) statuses.push((await app.inject({ url: '/ping', remoteAddress: '10.9.8.7' })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
      const limited = await two.inject({ url: '/ping', remoteAddress: '10.9.8.7' });
      expect(limited.json()).toMatchObject({ error: 'slow_down' });
      expect(limited.headers['retry-after']).toBeDefined();
      // Another address has its own budget; health is exempt.
      expect((await one.inject({ url: '/ping', remoteAddress: '10.9.8.8' })).statusCode).toBe(200);
      expect((await two.inject({ url: '/health/live', remoteAddress: '10.9.8.7' })).statusCode).toBe(200);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
