// Issue 17, storage and robustness findings, reproduced against the running HTTP API on both
// adapter sets: unbounded storage (retention, per-TPP quota), SSA roles named after
// Object.prototype members, unvalidated traceparent.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveAttributeType, tryParseDn } from '../../platform/pki/dn.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startProvisioner } from '../../services/provisioner/service.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

const DAY = 86_400;
/** A body the intake takes for a JWS (three base64url segments), 60 KiB of junk. */
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const junkJws = (n: number) => `${b64({ alg: 'PS256', typ: 'JWT', kid: 'junk' })}.${b64({ n, junk: 'j'.repeat(45_000) })}.${Buffer.alloc(256, 7).toString('base64url')}`;

describe.each(adapterSets)('storage hardening, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    if (skip) return;
    // Periodic passes off: the test runs each pass itself, at a clock of its choosing.
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_RETENTION_PURGE_INTERVAL_SECONDS: '0' } });
    tpp = await pipeline.createTpp('retainer');
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** Everything the pipeline still has to publish is published (the purge leaves records with pending outbox entries alone). */
  async function settleOutbox(): Promise<void> {
    while ((await pipeline.rt.relay?.drainOnce()) ?? 0) {
      // drained one batch; another may follow
    }
  }

  it.skipIf(skip)('a junk JWS body is rejected, then deleted with its body once the rejected retention passes', async () => {
    const res = await tpp.post(junkJws(1), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const requestId = String(res.json().request_id);
    await pipeline.waitForEvent((e) => e.type === 'dcr.registration.rejected' && e.data.request_id === requestId);
    const poll = await tpp.get(`/register/requests/${requestId}`);
    expect(poll.status).toBe(200);
    expect(poll.json().status).toBe('rejected');
    expect((await pipeline.rt.adapters.store.getRegistration(requestId))?.body.length).toBeGreaterThan(60_000);
    await settleOutbox();

    const retention = pipeline.rt.retention;
    expect(retention).not.toBeNull();
    // Within the period (a day by default): kept.
    await retention?.runOnce(Date.now() + DAY * 1000 - 60_000);
    expect((await tpp.get(`/register/requests/${requestId}`)).status).toBe(200);
    // After it: gone, body and all.
    const report = await retention?.runOnce(Date.now() + DAY * 1000 + 1000);
    expect(report?.deleted).toBeGreaterThanOrEqual(1);
    expect(await pipeline.rt.adapters.store.getRegistration(requestId)).toBeNull();
    const gone = await tpp.get(`/register/requests/${requestId}`);
    expect(gone.status).toBe(404);
    expect(gone.json()).toMatchObject({ error: 'not_found' });
  });

  it.skipIf(skip)('a registered request is compacted after the delivery window (no token, no body) and deleted after the audit period; the client stays', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    const body = res.json();
    const clientId = String(body.client_id);
    const token = String(body.registration_access_token);
    const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
    expect(created).toBeTruthy();
    const [registration] = (await pipeline.rt.adapters.store.listRegistrations({ status: 'registered', limit: 100 })).filter((r) => r.clientId === clientId);
    expect(registration?.sealedToken).toBeTruthy();
    const requestId = String(registration?.id);
    await settleOutbox();

    const retention = pipeline.rt.retention;
    const compacted = await retention?.runOnce(Date.now() + DAY * 1000 + 1000);
    expect(compacted?.compacted).toBeGreaterThanOrEqual(1);
    const stored = await pipeline.rt.adapters.store.getRegistration(requestId);
    expect(stored).toMatchObject({ status: 'registered', body: '', verified: null, sealedToken: null, clientId });
    // The certificate stays: management recognises clients stored with a legacy identity by it.
    expect(stored?.certificate).toEqual(registration?.certificate);
    expect(stored?.history).toEqual(registration?.history);
    expect(typeof stored?.compactedAt).toBe('string');
    // The TPP's poll still answers, without the token.
    const poll = await tpp.get(`/register/requests/${requestId}`);
    expect(poll.status).toBe(200);
    expect(poll.json().status).toBe('registered');
    expect(poll.text).not.toContain(token);

    const expired = await retention?.runOnce(Date.now() + 5 * 366 * DAY * 1000);
    expect(expired?.deleted).toBeGreaterThanOrEqual(1);
    expect(await pipeline.rt.adapters.store.getRegistration(requestId)).toBeNull();
    // The registered client outlives its request's record.
    const read = await httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, { identity: tpp.identity, headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect(read.json().client_id).toBe(clientId);
  });

  it.skipIf(skip)('SSA roles named constructor, __proto__ and toString are unknown roles: the request registers', async () => {
    const odd = await pipeline.createTpp('protoroles', { roles: ['AISP', 'constructor', '__proto__', 'toString'] });
    const res = await odd.post(await odd.sign(odd.claims()));
    expect(res.text).not.toContain('error');
    expect(res.status).toBe(201);
    expect(res.json().client_id).toEqual(expect.any(String));
  });

  it.skipIf(skip)('an invalid traceparent is dropped; a valid one reaches the public events', async () => {
    const bad = await tpp.post(junkJws(2), { prefer: 'respond-async', traceparent: `00-${'x'.repeat(5000)}` });
    expect(bad.status).toBe(202);
    const badId = String(bad.json().request_id);
    const allZero = await tpp.post(junkJws(3), { prefer: 'respond-async', traceparent: `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01` });
    const zeroId = String(allZero.json().request_id);
    const valid = `00-${'4bf92f3577b34da6a3ce929d0e0e4736'}-00f067aa0ba902b7-01`;
    const good = await tpp.post(junkJws(4), { prefer: 'respond-async', traceparent: valid });
    const goodId = String(good.json().request_id);

    for (const id of [badId, zeroId]) {
      const received = await pipeline.waitForEvent((e) => e.type === 'dcr.registration.received' && e.data.request_id === id);
      expect(received.traceparent).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain('xxxxx');
      expect((await pipeline.rt.adapters.store.getRegistration(id))?.traceparent).toBeNull();
    }
    const traced = await pipeline.waitForEvent((e) => e.type === 'dcr.registration.received' && e.data.request_id === goodId);
    expect(traced.traceparent).toBe(valid);
  });

  it.skipIf(skip)('a TPP over its quota of requests in progress gets 429 slow_down with Retry-After; a resubmission and other TPPs are still answered', async () => {
    // Stages off: requests stay in progress.
    const held = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), stages: false, env: { DCR_MAX_IN_FLIGHT_PER_TPP: '2' } });
    try {
      const flooder = await held.createTpp('flooder');
      const first = await flooder.post(junkJws(5), { prefer: 'respond-async' });
      expect(first.status).toBe(202);
      expect((await flooder.post(junkJws(6), { prefer: 'respond-async' })).status).toBe(202);

      const refused = await flooder.post(junkJws(7), { prefer: 'respond-async' });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
      expect(refused.json()).toMatchObject({ error: 'slow_down' });
      expect(String(refused.json().error_description)).toContain('at most 2');
      const all = await held.rt.adapters.store.listRegistrations({ limit: 100 });
      expect(all).toHaveLength(2);
      expect(await held.rt.adapters.store.countInFlight(all[0]?.certificate.tppIdentity ?? '')).toBe(2);

      // The same bytes again: the recorded request, not a refusal.
      const again = await flooder.post(junkJws(5), { prefer: 'respond-async' });
      expect(again.status).toBe(202);
      expect(again.json().request_id).toBe(first.json().request_id);

      const other = await held.createTpp('bystander');
      expect((await other.post(junkJws(8), { prefer: 'respond-async' })).status).toBe(202);
    } finally {
      await held.stop();
    }
  });
});

describe('DN attribute names from input', () => {
  it('constructor, __proto__ and toString are not attribute types', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(resolveAttributeType(name)).toBeNull();
      expect(tryParseDn(`${name}=x`)).toBeNull();
    }
    expect(resolveAttributeType('OU')).toBe('2.5.4.11');
  });
});

describe.each(adapterSets)('time rules are judged at submission, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;

  it.skipIf(skip)('a request verified only after its exp passed (stages down meanwhile) registers; it is not rejected as expired', async () => {
    // No leeway: the request is past its exp the second the test clock passes it.
    const pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), stages: false, env: { DCR_LEEWAY_SECONDS: '0' } });
    const stages: Array<{ stop(): Promise<void> }> = [];
    try {
      const tpp = await pipeline.createTpp('latecomer');
      const now = Math.floor(Date.now() / 1000);
      const exp = now + 2;
      const res = await tpp.post(await tpp.sign(tpp.claims({ iat: now, exp })), { prefer: 'respond-async' });
      expect(res.status).toBe(202);
      const requestId = String(res.json().request_id);
      // The scenario itself is "verified after exp": let the wall clock pass the request's exp.
      // (A timer may fire a millisecond before Date.now() reaches its target: wait until it has.)
      while (Date.now() < (exp + 1) * 1000) await new Promise((resolve) => setTimeout(resolve, (exp + 1) * 1000 - Date.now() + 5));
      expect(Date.now()).toBeGreaterThanOrEqual((exp + 1) * 1000);

      // The outcome signal fires once the request is settled (registered, rejected or failed); the
      // client's created event may be published a moment before the registration commits.
      const outcome = pipeline.rt.adapters.signal.watch(requestId);
      stages.push(await startVerifier(pipeline.rt), startRevocation(pipeline.rt), await startProvisioner(pipeline.rt));
      try {
        expect(await outcome.wait(30_000)).toBe(true);
      } finally {
        outcome.dispose();
      }
      const settled = await pipeline.rt.adapters.store.getRegistration(requestId);
      expect(settled?.status, settled?.lastError ?? '').toBe('registered');
      expect(pipeline.events.some((e) => e.type === 'dcr.registration.rejected' && e.data.request_id === requestId)).toBe(false);
      const poll = await tpp.get(`/register/requests/${requestId}`);
      expect(poll.status).toBe(200);
      expect(poll.json()).toMatchObject({ status: 'registered' });
    } finally {
      await Promise.all(stages.map((s) => s.stop()));
      await pipeline.stop();
    }
  });
});
