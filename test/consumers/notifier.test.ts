// The reference notifier: signed webhooks (X-DCR-Signature over "<t>.<body>"), retries with
// backoff on 5xx and timeouts, gives up after N attempts, never logs its secret.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TOPICS } from '../../core/domain/events.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import { validateEvent } from '../../core/events/validate.js';
import { Notifier, startNotifier } from '../../services/notifier/service.js';
import { verifyWebhookSignature, webhookFetcher, type WebhookOptions } from '../../services/notifier/webhook.js';
import { SandboxDirectory } from '../../sandbox/directory-sandbox/index.js';
import { startTestPipeline, type InfraUrls, type TestPipeline } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

const SECRET = 'whsec_test_0123456789abcdef0123456789abcdef';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** The receiver's TLS identity: a server certificate for 127.0.0.1 from a sandbox CA. */
interface ReceiverTls {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/**
 * A local HTTPS webhook receiver; `respond` decides each answer (a status, or 'hang' to never answer).
 * `port` 0: a free one.
 */
async function startReceiver(tls: ReceiverTls, respond: (body: string, seen: Received[]) => number | 'hang', port = 0) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = respond(body, received);
      received.push({ headers: req.headers, body, status: answer === 'hang' ? 0 : answer });
      if (answer === 'hang') hanging.push(res);
      else res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/dcr`,
    received,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The receiver's check, written independently of the notifier's code. */
function signatureValid(secret: string, header: string | string[] | undefined, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header));
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return Math.abs(Date.now() / 1000 - Number(match[1])) < 300 && timingSafeEqual(expected, Buffer.from(match[2] ?? '', 'hex'));
}

function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString('utf8')), done()) }));
  return { logger, lines };
}

const createdEvent = (id = 'evt-1'): DeliveredEvent => ({
  specversion: '1.0',
  id,
  type: 'dcr.client.created',
  source: 'urn:dcr:provisioner',
  subject: 'client-1',
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data: { client_id: 'client-1', status: 'active', client_id_issued_at: 1_790_000_000, software_id: 'sw', org_id: 'org', redirect_uris: ['https://tpp.example/cb'] },
  topic: TOPICS.client,
});

describe('notifier webhook delivery', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let script: number[];
  let tls: ReceiverTls;
  let caDir: string;
  const options = (url: string, timeoutMs = 5000): WebhookOptions => ({ url, secret: SECRET, maxAttempts: 3, retryBaseDelayMs: 10, timeoutMs });
  /** The notifier as startNotifier builds it: through the outbound fetcher, trusting the receiver's CA. */
  const notifierFor = (url: string, logger: ConstructorParameters<typeof Notifier>[1], timeoutMs = 5000) =>
    new Notifier(options(url, timeoutMs), logger, undefined, webhookFetcher(options(url, timeoutMs), [tls.caPem]));

  beforeAll(async () => {
    caDir = await mkdtemp(join(tmpdir(), 'dcr-notifier-ca-'));
    const ca = await SandboxDirectory.open({ dataDir: caDir, baseUrl: 'https://localhost:1' });
    tls = { ...(await ca.issueServerCertificate(['127.0.0.1'])), caPem: ca.caCertPem };
  });
  afterAll(async () => {
    await rm(caDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    script = [];
    receiver = await startReceiver(tls, () => script.shift() ?? 200);
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('goes through the outbound fetcher: an untrusted receiver certificate and a plain-http URL are refused, no retry', async () => {
    const untrusted = new Notifier(options(receiver.url), pino({ level: 'silent' }), undefined, webhookFetcher(options(receiver.url), []));
    const outcome = await untrusted.handle(createdEvent('evt-untrusted'));
    expect(outcome).toMatchObject({ delivered: false });
    expect(receiver.received).toHaveLength(0);

    const plain = receiver.url.replace('https:', 'http:');
    const refused = await new Notifier(options(plain), pino({ level: 'silent' }), undefined, webhookFetcher(options(plain), [tls.caPem])).handle(createdEvent('evt-plain'));
    expect(refused).toEqual({ delivered: false, attempts: 1, reason: expect.stringContaining('https only') });
    expect(receiver.received).toHaveLength(0);
  });

  it('a 500 then a 200: exactly one successful delivery, after one retry, both attempts signed', async () => {
    script = [500, 200];
    const { logger, lines } = capturingLogger();
    const outcome = await notifierFor(receiver.url, logger).handle(createdEvent());
    expect(outcome).toEqual({ delivered: true, attempts: 2, status: 200 });
    expect(receiver.received.map((r) => r.status)).toEqual([500, 200]);
    for (const r of receiver.received) {
      expect(signatureValid(SECRET, r.headers['x-dcr-signature'], r.body)).toBe(true);
      expect(verifyWebhookSignature(SECRET, String(r.headers['x-dcr-signature']), r.body)).toBe(true);
      expect(signatureValid('another-secret-another-secret-00', r.headers['x-dcr-signature'], r.body)).toBe(false);
      expect(signatureValid(SECRET, r.headers['x-dcr-signature'], r.body.replace('client-1', 'client-2'))).toBe(false);
      expect(r.headers['x-dcr-event-id']).toBe('evt-1');
      expect(r.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    }
    // The body is the CloudEvent in structured form, valid against its schema, identical on retry.
    expect(receiver.received[0]?.body).toBe(receiver.received[1]?.body);
    const body = JSON.parse(receiver.received[1]?.body ?? '{}') as Record<string, unknown>;
    expect(body).not.toHaveProperty('topic');
    expect(validateEvent(body)).toMatchObject({ valid: true });
    expect(lines.join('')).toContain('retrying');
    expect(lines.join('')).not.toContain(SECRET);
  });

  it('retries a timeout, gives up after N failures and logs it, and does not retry a 4xx', async () => {
    script = [];
    const hangOnce = await startReceiver(tls, (_body, seen) => (seen.length === 0 ? 'hang' : 200));
    try {
      const outcome = await notifierFor(hangOnce.url, pino({ level: 'silent' }), 1000).handle(createdEvent('evt-timeout'));
      expect(outcome).toEqual({ delivered: true, attempts: 2, status: 200 });
      expect(hangOnce.received).toHaveLength(2);
    } finally {
      await hangOnce.close();
    }

    script = [503, 503, 503, 503];
    const { logger, lines } = capturingLogger();
    const gaveUp = await notifierFor(receiver.url, logger).handle(createdEvent('evt-down'));
    expect(gaveUp).toEqual({ delivered: false, attempts: 3, reason: 'HTTP 503' });
    expect(receiver.received).toHaveLength(3);
    const log = lines.join('');
    expect(log).toContain('webhook delivery gave up');
    expect(log).toContain('evt-down');
    expect(log).not.toContain(SECRET);

    script = [400];
    const refused = await notifierFor(receiver.url, pino({ level: 'silent' })).handle(createdEvent('evt-bad'));
    expect(refused).toEqual({ delivered: false, attempts: 1, reason: 'HTTP 400' });
    expect(receiver.received).toHaveLength(4);
  });

  it('notifies only created, rejected and failed, and never forwards an event that breaks the contract', async () => {
    const notifier = notifierFor(receiver.url, pino({ level: 'silent' }));
    expect(await notifier.handle({ ...createdEvent(), type: 'dcr.registration.verified', topic: TOPICS.registration })).toBeNull();
    expect(await notifier.handle({ ...createdEvent(), data: { ...createdEvent().data, registration_access_token: 'x' } })).toBeNull();
    expect(receiver.received).toHaveLength(0);
  });
});

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

describe.each(adapterSets)('notifier on a pipeline, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let notifier: Awaited<ReturnType<typeof startNotifier>> | undefined;

  beforeAll(async () => {
    if (skip) return;
    // The receiver's certificate comes from the pipeline's sandbox CA (trusted for outbound calls in
    // the sandbox), so it starts after the pipeline, on the port its configuration names.
    const port = await freeTcpPort();
    pipeline = await startTestPipeline({
      ...(infraUrls ? { infra: infraUrls } : {}),
      env: { DCR_NOTIFIER_WEBHOOK_URL: `https://127.0.0.1:${port}/hooks/dcr`, DCR_NOTIFIER_WEBHOOK_SECRET: SECRET, DCR_NOTIFIER_RETRY_BASE_DELAY_MS: '20' },
    });
    const tls = { ...(await pipeline.directory.issueServerCertificate(['127.0.0.1'])), caPem: pipeline.directory.caCertPem };
    // Every event's first delivery fails with a 500; the retry succeeds.
    receiver = await startReceiver(
      tls,
      (body, seen) => {
        const id = (JSON.parse(body) as { id: string }).id;
        return seen.some((r) => (JSON.parse(r.body) as { id: string }).id === id) ? 200 : 500;
      },
      port,
    );
    notifier = await startNotifier(pipeline.rt, { fromBeginning: true });
  });
  afterAll(async () => {
    await notifier?.stop();
    await pipeline?.stop();
    await receiver?.close();
  });

  it.skipIf(skip)('a registration and a rejection each reach the webhook exactly once, signed, after one retry', async () => {
    const tpp = await pipeline.createTpp('notified');
    const created = await tpp.post(await tpp.sign(tpp.claims()));
    expect(created.status).toBe(201);
    const { client_id: clientId, registration_access_token: token } = created.json<{ client_id: string; registration_access_token: string }>();
    const rejected = await tpp.post(await tpp.sign(tpp.claims({ aud: 'https://other-bank.example' })));
    expect(rejected.status).toBe(400);

    const deliveredOf = (match: (e: { type: string; subject: string; data: Record<string, unknown> }) => boolean) =>
      receiver.received.filter((r) => r.status === 200 && match(JSON.parse(r.body) as { type: string; subject: string; data: Record<string, unknown> }));
    const deadline = Date.now() + 30_000;
    while (
      (deliveredOf((e) => e.type === 'dcr.client.created' && e.subject === clientId).length === 0 ||
        deliveredOf((e) => e.type === 'dcr.registration.rejected' && e.data.error === 'invalid_client_metadata').length === 0) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 25));
    }
    // Stopping waits for the handler in flight: after it, no delivery can still be under way.
    await notifier?.stop();
    notifier = undefined;

    const createdEventId = (await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId)).id;
    const attempts = receiver.received.filter((r) => r.headers['x-dcr-event-id'] === createdEventId);
    expect(attempts.map((r) => r.status)).toEqual([500, 200]);
    for (const r of receiver.received) {
      expect(signatureValid(SECRET, r.headers['x-dcr-signature'], r.body)).toBe(true);
      expect(r.body).not.toContain(token);
      expect(['dcr.client.created', 'dcr.registration.rejected', 'dcr.registration.failed']).toContain((JSON.parse(r.body) as { type: string }).type);
    }
    const rejection = deliveredOf((e) => e.type === 'dcr.registration.rejected');
    expect(rejection).toHaveLength(1);
    expect(JSON.parse(rejection[0]?.body ?? '{}')).toMatchObject({ data: { error: 'invalid_client_metadata', status: 'rejected' } });
    // Exactly one successful delivery per event.
    const successes = receiver.received.filter((r) => r.status === 200).map((r) => r.headers['x-dcr-event-id']);
    expect(new Set(successes).size).toBe(successes.length);
  });
});
