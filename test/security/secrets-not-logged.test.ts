import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sandboxCredentials, sandboxTrust, startSandboxDirectoryServer, type SandboxDirectory, type SandboxServer } from '../../sandbox/directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../../sandbox/sandbox-as/provisioning.js';
import type { RunningIntake } from '../../services/intake/service.js';
import { inProcessPipelineEnv, startPipelineServices, type PipelineServices } from '../../testkit/in-process-pipeline.js';
import { loadConfig } from '../../platform/config/load.js';
import { TOPICS, type TopicName } from '../../core/domain/events.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import { REDACT_PATHS } from '../../platform/runtime/logger.js';
import { createRuntime, type Runtime } from '../../platform/runtime/runtime.js';
import { httpsRequest, type MtlsIdentity } from '../../sandbox/tpp-client/https-client.js';
import { defaultRegistrationClaims, signRegistrationRequest, type TppCredentials } from '../../sandbox/tpp-client/registration-request.js';
import type { InfraUrls } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra') as InfraUrls | undefined;
const modes: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? undefined],
];

/**
 * Runs the whole pipeline with every service logging at `trace` into memory (the production logger
 * configuration: pino with the shared redaction paths), drives register → read → update → delete,
 * and searches the logs and the events for the secrets that passed through.
 */
describe.each(modes)('no secrets in logs or events (%s)', (name, urls) => {
  const lines: string[] = [];
  const events: DeliveredEvent[] = [];
  const listeners = new Set<() => void>();
  /** Resolves once an event matching `predicate` has been seen (the test timeout bounds it). */
  const seen = (predicate: (e: DeliveredEvent) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (events.some(predicate)) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
    });
  let dataDir: string;
  let directory: SandboxDirectory;
  let sandbox: SandboxServer;
  let rt: Runtime;
  let intake: RunningIntake;
  let services: PipelineServices;
  let close: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    if (name !== 'embedded' && !urls) return;
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-secrets-'));
    const sandboxPort = await freeTcpPort();
    const namespace = `s${randomBytes(5).toString('hex')}`;
    const config = loadConfig({
      ...inProcessPipelineEnv({ dataDir, sandboxPort, namespace, infra: urls, syncWaitMs: 15_000 }),
      DCR_LOG_LEVEL: 'trace',
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = pino({ name: 'secrets-test', level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    const sandboxed = await sandboxTrust(config);
    const trust = sandboxed.trust;
    directory = sandboxed.directory;
    sandbox = await startSandboxDirectoryServer(directory, { host: '127.0.0.1', port: sandboxPort });
    rt = await createRuntime(config, trust, 'secrets-test', { relay: true, logger, sandboxAuthorizationServer });
    services = await startPipelineServices(rt);
    intake = services.intake;
    const subscription = await rt.adapters.bus.subscribe(
      { groupId: `secrets-observer-${namespace}`, topics: Object.values(TOPICS) as TopicName[], fromBeginning: true },
      async (event) => {
        events.push(event);
        for (const l of listeners) l();
      },
    );
    close = async () => {
      await services.stop();
      await subscription.close();
      await rt.close();
      await sandbox.close();
    };
  });

  afterAll(async () => {
    await close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it.runIf(name === 'embedded' || urls !== undefined)('a full register → read → update → delete run leaks none of them', async () => {
    const sandboxTpp = await directory.createTpp(`sec${randomBytes(3).toString('hex')}`);
    const credentials: TppCredentials = sandboxCredentials(sandboxTpp);
    const identity: MtlsIdentity = { certPem: sandboxTpp.transportCertPem, keyPem: sandboxTpp.transportKeyPem, caPem: directory.caCertPem };
    const base = `https://localhost:${intake.port}`;
    const claims = () => defaultRegistrationClaims(credentials, 'https://localhost:8443');

    const created = await httpsRequest(`${base}/register`, { method: 'POST', identity, headers: { 'content-type': 'application/jwt' }, body: await signRegistrationRequest(credentials, claims()) });
    expect(created.status).toBe(201);
    const { client_id: clientId, registration_access_token: token } = created.json<{ client_id: string; registration_access_token: string }>();
    const auth = { authorization: `Bearer ${token}` };
    const read = await httpsRequest(`${base}/register/${clientId}`, { identity, headers: auth });
    expect(read.status).toBe(200);
    const updated = await httpsRequest(`${base}/register/${clientId}`, {
      method: 'PUT',
      identity,
      headers: { ...auth, 'content-type': 'application/jwt' },
      body: await signRegistrationRequest(credentials, { ...claims(), client_id: clientId }),
    });
    expect(updated.status).toBe(200);
    // A wrong token is logged as a failed attempt, never echoed.
    const wrongToken = `${token.slice(0, -4)}AAAA`;
    expect((await httpsRequest(`${base}/register/${clientId}`, { identity, headers: { authorization: `Bearer ${wrongToken}` } })).status).toBe(401);
    const deleted = await httpsRequest(`${base}/register/${clientId}`, { method: 'DELETE', identity, headers: auth });
    expect(deleted.status).toBe(204);

    // Wait until the pipeline has published the deletion (a condition, not a sleep).
    await seen((e) => e.type === 'dcr.client.deleted' && e.subject === clientId);

    // The sealed copy of the token, as stored on the registration request.
    const requestId = events.find((e) => e.type === 'dcr.registration.received')?.subject ?? '';
    const stored = await rt.adapters.store.getRegistration(requestId);
    const sealed = stored?.sealedToken ?? null;
    expect(sealed).toEqual(expect.any(String));

    const logs = lines.join('');
    const published = JSON.stringify(events);
    // Something was recorded: the test would prove nothing over empty sinks.
    expect(lines.length).toBeGreaterThan(10);
    expect(logs).toMatch(/request completed/);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['dcr.client.created', 'dcr.client.updated', 'dcr.client.deleted']));

    const jwk = sandboxTpp.signingPrivateJwk as Record<string, unknown>;
    const keyPemBody = sandboxTpp.transportKeyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const secrets: Record<string, string> = {
      'registration access token': token,
      'wrong bearer token': wrongToken,
      'sealed token': sealed ?? '',
      SSA: sandboxTpp.ssa,
      'SSA signature': sandboxTpp.ssa.split('.')[2] ?? '',
      'private JWK d': String(jwk.d),
      'transport private key (first 64 base64 chars)': keyPemBody.slice(0, 64),
    };
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret.length, what).toBeGreaterThan(10);
      expect(logs.includes(secret), `${what} in the logs`).toBe(false);
      expect(published.includes(secret), `${what} in the events`).toBe(false);
    }
    // Private key material in any JWK shape, and PEM private keys.
    expect(logs).not.toMatch(/"d"\s*:\s*"/);
    expect(published).not.toMatch(/"d"\s*:\s*"/);
    expect(logs).not.toMatch(/PRIVATE KEY/);
    expect(published).not.toMatch(/PRIVATE KEY/);
  });
});
