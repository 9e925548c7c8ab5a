import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { Kafka, logLevel } from 'kafkajs';
import { SandboxDirectory, sandboxCredentials } from '../../sandbox/directory-sandbox/index.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { defaultRegistrationClaims, signRegistrationRequest } from '../../sandbox/tpp-client/registration-request.js';
import type { InfraUrls } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';
import { distributedServiceEnv } from '../support/distributed-env.js';
import { attribute, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { sandboxServiceArgs } from '../../testkit/service-entry.js';

const infra = inject('infra') as InfraUrls;

/** Starts one service as its own Node process (the distributed deployment), in sandbox mode. */
function startService(name: string, env: Record<string, string>, logs: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...sandboxServiceArgs(name)], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => logs.push(`[${name}] ${d.toString()}`));
  child.stderr?.on('data', (d: Buffer) => logs.push(`[${name}] ${d.toString()}`));
  return child;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, logs: string[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms\n${logs.slice(-30).join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!infra)('distributed mode: each service its own process on MongoDB, BullMQ/Redis and Kafka', () => {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  let dataDir: string;
  let env: Record<string, string>;
  let intakeUrl: string;
  let directory: SandboxDirectory;
  let otlp: OtlpReceiver;

  beforeAll(async () => {
    if (!infra) return;
    otlp = await startOtlpReceiver();
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-dist-'));
    const namespace = `p${randomBytes(4).toString('hex')}`;
    const [sandboxPort, intakePort] = [await freeTcpPort(), await freeTcpPort()];
    env = {
      // DCR_AUDIENCE in it is the public URL, which is also the default audience
      ...distributedServiceEnv({ dataDir, namespace, sandboxPort, intakePort, infra }),
      DCR_SYNC_WAIT_MS: '15000',
      DCR_LOG_LEVEL: 'warn',
      // OpenTelemetry on: every process exports its spans to the test's OTLP/HTTP receiver.
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    };
    children.push(startService('directory-sandbox', env, logs));
    directory = await until(
      'sandbox directory',
      async () => {
        const dir = await SandboxDirectory.open({ dataDir, baseUrl: env.DCR_SANDBOX_BASE_URL as string });
        const res = await httpsRequest(dir.directoryJwksUrl, { identity: { caPem: dir.caCertPem } });
        return res.status === 200 ? dir : undefined;
      },
      30_000,
      logs,
    );
    for (const name of ['intake', 'verifier', 'revocation', 'provisioner']) children.push(startService(name, env, logs));
    intakeUrl = `https://localhost:${intakePort}`;
    const admin = new Kafka({ brokers: infra.kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // The provisioner (which runs the outbox relay) creates the topics when it starts.
    await until('topics created', async () => ((await admin.listTopics()).includes(`${namespace}.dcr.client.v1`) ? true : undefined), 60_000, logs);
    await admin.disconnect();
    await until(
      'intake ready',
      async () => ((await httpsRequest(`${intakeUrl}/health/ready`, { identity: { caPem: directory.caCertPem } })).status === 200 ? true : undefined),
      60_000,
      logs,
    );
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await otlp?.close();
  });

  it('registers a client end to end across the processes, stores it in MongoDB and publishes dcr.client.created to Kafka', async () => {
    const tpp = await directory.createTpp('dist-acme');
    const credentials = sandboxCredentials(tpp);
    const jwt = await signRegistrationRequest(credentials, defaultRegistrationClaims(credentials, env.DCR_PUBLIC_URL as string));
    const res = await httpsRequest(`${intakeUrl}/register`, {
      method: 'POST',
      body: jwt,
      headers: { 'content-type': 'application/jose' },
      identity: { certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: directory.caCertPem },
    });
    expect(res.status, `${res.text}\n${logs.slice(-20).join('')}`).toBe(201);
    const clientId = String(res.json().client_id);

    const mongo = new MongoClient(env.DCR_MONGO_URL as string);
    await mongo.connect();
    try {
      const stored = await mongo.db().collection(`${env.DCR_NAMESPACE}_clients`).findOne({ _id: clientId as never });
      expect(stored?.softwareId).toBe(tpp.softwareId);
      expect(stored?.status).toBe('active');
    } finally {
      await mongo.close();
    }

    const kafka = new Kafka({ brokers: (env.DCR_KAFKA_BROKERS as string).split(','), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `check-${randomBytes(4).toString('hex')}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: `${env.DCR_NAMESPACE}.dcr.client.v1`, fromBeginning: true });
      const seen = new Promise<{ type: string; key: string }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const type = message.headers?.ce_type?.toString();
            if (type === 'dcr.client.created' && message.key?.toString() === clientId) resolve({ type, key: clientId });
          },
        });
      });
      const event = await Promise.race([
        seen,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no dcr.client.created on Kafka')), 30_000)),
      ]);
      expect(event).toEqual({ type: 'dcr.client.created', key: clientId });
    } finally {
      await consumer.disconnect();
    }
  }, 90_000);

  it('joins one registration into one trace across the processes (intake, verifier, revocation, provisioner)', async () => {
    const tpp = await directory.createTpp('dist-traced');
    const credentials = sandboxCredentials(tpp);
    const jwt = await signRegistrationRequest(credentials, defaultRegistrationClaims(credentials, env.DCR_PUBLIC_URL as string));
    const traceId = randomBytes(16).toString('hex');
    const res = await httpsRequest(`${intakeUrl}/register`, {
      method: 'POST',
      body: jwt,
      headers: { 'content-type': 'application/jose', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      identity: { certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: directory.caCertPem },
    });
    expect(res.status, `${res.text}\n${logs.slice(-20).join('')}`).toBe(201);

    // Each process exports on its own batch schedule; wait until the four services' spans are in.
    const named = (spans: ReturnType<OtlpReceiver['spans']>, name: string) =>
      spans.filter((s) => s.traceId === traceId && s.name === name && (name === 'POST /register' || attribute(s, 'dcr.stage.outcome') === 'advanced'));
    const names = ['POST /register', 'stage verify', 'stage revocation', 'stage provision'];
    const spans = await otlp.waitFor((all) => names.every((n) => named(all, n).length === 1), 30_000);
    const one = (name: string) => {
      const [span] = named(spans, name);
      if (!span) throw new Error(`no ${name} span`);
      return span;
    };
    const [post, verify, revocation, provision] = [one('POST /register'), one('stage verify'), one('stage revocation'), one('stage provision')];
    expect([post, verify, revocation, provision].map((s) => s.service)).toEqual(['dcr-intake', 'dcr-verifier', 'dcr-revocation', 'dcr-provisioner']);
    expect(verify.parentSpanId).toBe(post.spanId);
    expect(revocation.parentSpanId).toBe(verify.spanId);
    expect(provision.parentSpanId).toBe(revocation.spanId);
    const fetches = spans.filter((s) => s.traceId === traceId && s.service === 'dcr-verifier' && s.parentSpanId === verify.spanId && s.name === 'GET');
    expect(fetches.length).toBeGreaterThan(0);
  }, 90_000);
});
