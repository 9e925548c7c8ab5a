/**
 * DCR_AS_PROVISIONING=events (issue 15): the bank's AS or gateway learns clients from
 * `dcr.client.v1`, and a registration is `registered` only once the consumer groups named in
 * DCR_AS_EVENT_GROUPS have applied (committed their offset past) its client event. On both adapter
 * sets, with real consumers subscribed through the pipeline's own bus (a SQLite log, or Kafka):
 * - the sandbox AS and a fast gateway as the groups: 201, and the AS grants a token at once
 *   (one request, no retry); PUT 200 after both applied the update; DELETE 204 after both applied
 *   the deletion, and the AS refuses at once;
 * - a slow gateway (its handler blocks until the test releases it): 202, `provisioning` while it
 *   is blocked, `registered` (with the 201-shaped registration) only after it applied the event;
 * - a gateway that does not consume: `failed` after the attempts, naming the barrier; replayed
 *   once the gateway has consumed: `registered`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TOPICS } from '../../core/domain/events.js';
import type { Registration } from '../../core/domain/registration.js';
import { replayRegistration } from '../../core/pipeline/replay.js';
import type { DeliveredEvent, Subscription } from '../../core/ports/events.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { requestClientCredentials, SANDBOX_AS_GROUP, startSandboxAs, type RunningSandboxAs, type TokenAuthMethod } from '../../sandbox/sandbox-as/index.js';
import { httpsRequest, type HttpResponse } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { settled } from '../support/wait.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

/**
 * A gateway consumer group on `dcr.client.v1`, subscribed through the pipeline's bus like
 * services/gateway-sync: it "applies" an event by recording it, and its offset is committed by the
 * bus after the handler resolves. While held, each handler call waits for {@link release}.
 */
class Gateway {
  readonly applied: Array<{ event: DeliveredEvent; at: number }> = [];
  #held: Promise<void> | null = null;
  #release: (() => void) | undefined;
  #entered: Array<(event: DeliveredEvent) => void> = [];
  #appliedWaiters: Array<{ match: (e: DeliveredEvent) => boolean; resolve: () => void }> = [];
  subscription: Subscription | undefined;

  constructor(readonly groupId: string) {}

  async subscribe(rt: Runtime): Promise<void> {
    this.subscription = await rt.adapters.bus.subscribe({ groupId: this.groupId, topics: [TOPICS.client], fromBeginning: true }, (event) => this.#handle(event));
  }

  /** From now on every event waits in the handler until {@link release}. */
  hold(): void {
    this.#held ??= new Promise<void>((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release?.();
    this.#held = null;
    this.#release = undefined;
  }

  /** Resolves with the next event the handler is given (while held: the one it blocks on). */
  entered(): Promise<DeliveredEvent> {
    return new Promise((resolve) => this.#entered.push(resolve));
  }

  /** Resolves once an event matching `match` has been applied. */
  appliedOne(match: (e: DeliveredEvent) => boolean): Promise<void> {
    if (this.applied.some((a) => match(a.event))) return Promise.resolve();
    return new Promise((resolve) => this.#appliedWaiters.push({ match, resolve }));
  }

  appliedTypes(clientId: string): string[] {
    return this.applied.filter((a) => a.event.subject === clientId).map((a) => a.event.type);
  }

  async #handle(event: DeliveredEvent): Promise<void> {
    for (const resolve of this.#entered.splice(0)) resolve(event);
    if (this.#held) await this.#held;
    this.applied.push({ event, at: Date.now() });
    this.#appliedWaiters = this.#appliedWaiters.filter((w) => (w.match(event) ? (w.resolve(), false) : true));
  }

  async close(): Promise<void> {
    this.release();
    await this.subscription?.close();
  }
}

interface PollBody {
  request_id: string;
  status: string;
  client_id?: string;
  registration?: Record<string, unknown>;
  error?: string;
  error_description?: string;
}

async function poll(tpp: TestTpp, requestId: string): Promise<PollBody> {
  const res = await tpp.get(`/register/requests/${requestId}`);
  expect(res.status, res.text).toBe(200);
  return res.json<PollBody>();
}

const provisionHistory = (r: Registration) => r.history.filter((h) => h.stage === 'provision');

describe.each(adapterSets)('events adapter: a read-your-writes barrier on consumer groups, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  const withInfra = infraUrls ? { infra: infraUrls } : {};

  describe('the sandbox AS and a gateway as the groups', () => {
    let pipeline: TestPipeline;
    let as: RunningSandboxAs;
    let tpp: TestTpp;
    const gateway = new Gateway('bank-gateway');

    beforeAll(async () => {
      if (skip) return;
      const asPort = await freeTcpPort();
      const issuer = `https://localhost:${asPort}`;
      pipeline = await startTestPipeline({
        ...withInfra,
        env: {
          DCR_AS_PROVISIONING: 'events',
          DCR_AS_EVENT_GROUPS: `${SANDBOX_AS_GROUP},bank-gateway`,
          DCR_AS_ISSUER: issuer,
          DCR_AS_JWKS_URL: `${issuer}/jwks`,
        },
      });
      const tls = await pipeline.directory.issueServerCertificate(['localhost', '127.0.0.1']);
      as = await startSandboxAs(pipeline.rt, { host: '127.0.0.1', port: asPort, tls, clientCaPems: [pipeline.directory.caCertPem] });
      await gateway.subscribe(pipeline.rt);
      tpp = await pipeline.createTpp('fastbank');
    });
    afterAll(async () => {
      await gateway.close();
      await as?.stop();
      await pipeline?.stop();
    });

    function grant(clientId: string, method: TokenAuthMethod): Promise<HttpResponse> {
      return requestClientCredentials({ tokenEndpoint: as.tokenEndpoint, clientId, method, identity: tpp.identity, credentials: tpp.credentials });
    }

    it.skipIf(skip)('POST → 201 once both groups applied the client event; the AS grants a token at once (one request)', async () => {
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status, res.text).toBe(201);
      const body = res.json<{ client_id: string; token_endpoint_auth_method: TokenAuthMethod }>();
      // The barrier's guarantee, read directly: the gateway has applied the event before the 201.
      expect(gateway.appliedTypes(body.client_id)).toEqual(['dcr.client.created']);
      const token = await grant(body.client_id, body.token_endpoint_auth_method);
      expect(token.status, token.text).toBe(200);
      expect(token.json()).toMatchObject({ token_type: 'Bearer' });
      const client = await pipeline.rt.adapters.store.getClient(body.client_id);
      expect(client).toMatchObject({ status: 'active' });
      const registration = (await pipeline.rt.adapters.store.getRegistration(client?.requestId ?? '')) as Registration;
      expect(registration.status).toBe('registered');
      // The first provision attempt passed the barrier (the revocation stage queued it: `provisioning`).
      expect(registration.history.some((h) => h.stage === 'revocation' && h.to === 'provisioning')).toBe(true);
      expect(provisionHistory(registration).map((h) => [h.event, h.from, h.to])).toEqual([['transition', 'provisioning', 'registered']]);
    });

    it.skipIf(skip)('PUT → 200 and DELETE → 204 after both groups applied them: the AS refuses a token at once, GET is 401', async () => {
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status, res.text).toBe(201);
      const { client_id: clientId, token_endpoint_auth_method: method } = res.json<{ client_id: string; token_endpoint_auth_method: TokenAuthMethod }>();
      const token = await grant(clientId, method);
      expect(token.status, token.text).toBe(200);
      const authorization = `Bearer ${token.json<{ access_token: string }>().access_token}`;
      const manage = (m: 'GET' | 'PUT' | 'DELETE', body?: string) =>
        httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, {
          method: m,
          identity: tpp.identity,
          headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/jose' } : {}) },
          ...(body !== undefined ? { body } : {}),
        });
      expect((await manage('GET')).status).toBe(200);

      // RFC 7592 update: 200 once both groups applied dcr.client.updated; the AS issues with the new metadata.
      const put = await manage('PUT', await tpp.sign(tpp.claims({ scope: 'openid accounts' })));
      expect(put.status, put.text).toBe(200);
      expect(put.json()).toMatchObject({ client_id: clientId, scope: 'openid accounts' });
      expect(gateway.appliedTypes(clientId)).toEqual(['dcr.client.created', 'dcr.client.updated']);
      expect((await as.store.getClient(clientId))?.data).toMatchObject({ scope: 'openid accounts' });
      expect((await grant(clientId, method)).status).toBe(200);

      const deleted = await manage('DELETE');
      expect(deleted.status, deleted.text).toBe(204);
      expect(gateway.appliedTypes(clientId)).toEqual(['dcr.client.created', 'dcr.client.updated', 'dcr.client.deleted']);
      const refused = await grant(clientId, method);
      expect(refused.status, refused.text).toBe(401);
      expect(refused.json()).toMatchObject({ error: 'invalid_client' });
      expect((await manage('GET')).status).toBe(401);
      expect(await pipeline.rt.adapters.store.getClient(clientId)).toMatchObject({ status: 'deleted' });
    });
  });

  describe('a slow gateway', () => {
    let pipeline: TestPipeline;
    let tpp: TestTpp;
    const gateway = new Gateway('slow-gateway');

    beforeAll(async () => {
      if (skip) return;
      pipeline = await startTestPipeline({
        ...withInfra,
        // One provision attempt waits max(1 s, DCR_SYNC_WAIT_MS) for the barrier; plenty of attempts,
        // so the registration stays `provisioning` for as long as the gateway is held.
        env: { DCR_AS_PROVISIONING: 'events', DCR_AS_EVENT_GROUPS: 'slow-gateway', DCR_SYNC_WAIT_MS: '1000', DCR_STAGE_ATTEMPTS: '30' },
      });
      gateway.hold();
      await gateway.subscribe(pipeline.rt);
      tpp = await pipeline.createTpp('slowbank');
    });
    afterAll(async () => {
      await gateway.close();
      await pipeline?.stop();
    });

    it.skipIf(skip)('202, `provisioning` while the gateway is blocked on the event, `registered` only after it applied it', async () => {
      const entered = gateway.entered();
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status, res.text).toBe(202);
      const { request_id: requestId } = res.json<{ request_id: string; status: string }>();
      expect(res.headers.location).toBe(`/register/requests/${requestId}`);

      // The gateway holds the client's event (it has not applied it): the TPP is not told registered.
      const held = await entered;
      expect(held.type).toBe('dcr.client.created');
      const pending = await poll(tpp, requestId);
      expect(pending).toMatchObject({ request_id: requestId, status: 'provisioning' });
      expect(pending).not.toHaveProperty('registration');
      expect(pending).not.toHaveProperty('client_id');
      // The client is committed in our store already, with the event the gateway is blocked on.
      expect(await pipeline.rt.adapters.store.getClient(held.subject)).toMatchObject({ status: 'active' });

      gateway.release();
      const done = await settled(pipeline.rt, requestId);
      expect(done.status).toBe('registered');
      const appliedAt = gateway.applied.find((a) => a.event.id === held.id)?.at;
      expect(appliedAt).toBeDefined();

      const after = await poll(tpp, requestId);
      expect(after).toMatchObject({ request_id: requestId, status: 'registered', client_id: held.subject });
      expect(after.registration).toMatchObject({ client_id: held.subject, registration_client_uri: `https://localhost:8443/register/${held.subject}` });
      expect(typeof after.registration?.registration_access_token).toBe('string');

      // Stored history: queued for provisioning, attempts that found the event not yet applied, then
      // registered, committed after the gateway applied the event.
      const history = provisionHistory(done);
      expect(done.history.some((h) => h.stage === 'revocation' && h.to === 'provisioning')).toBe(true);
      const last = history.at(-1);
      expect(last).toMatchObject({ event: 'transition', from: 'provisioning', to: 'registered' });
      expect(Date.parse(last?.at ?? '')).toBeGreaterThanOrEqual(appliedAt as number);
      for (const h of history.filter((e) => e.event === 'attempt_failed')) {
        expect(h.error).toMatch(new RegExp(`^authorization_server_pending: events: client ${held.subject} event ${held.id} not yet applied`));
      }
      expect(history.filter((h) => h.to === 'failed')).toEqual([]);
      expect(gateway.appliedTypes(held.subject)).toEqual(['dcr.client.created']);
    });
  });

  describe('a gateway that does not consume', () => {
    let pipeline: TestPipeline;
    let tpp: TestTpp;
    const gateway = new Gateway('late-gateway');

    beforeAll(async () => {
      if (skip) return;
      pipeline = await startTestPipeline({
        ...withInfra,
        env: { DCR_AS_PROVISIONING: 'events', DCR_AS_EVENT_GROUPS: 'late-gateway', DCR_SYNC_WAIT_MS: '300', DCR_STAGE_ATTEMPTS: '2' },
      });
      tpp = await pipeline.createTpp('latebank');
    });
    afterAll(async () => {
      await gateway.close();
      await pipeline?.stop();
    });

    it.skipIf(skip)('`failed` after the attempts, naming the barrier; replayed once the gateway consumed: `registered`', async () => {
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status, res.text).toBe(202);
      const { request_id: requestId } = res.json<{ request_id: string }>();

      const failed = await settled(pipeline.rt, requestId);
      expect(failed).toMatchObject({ status: 'failed', failedStage: 'provision' });
      const clientId = failed.clientId as string;
      expect(failed.lastError).toMatch(new RegExp(`^authorization_server_pending: events: client ${clientId} event [0-9a-f-]{36} not yet applied by the authorization server$`));
      const attempts = provisionHistory(failed);
      expect(attempts.map((h) => [h.event, h.attempt, h.to ?? null])).toEqual([
        ['attempt_failed', 1, null],
        ['transition', 2, 'failed'],
      ]);
      for (const h of attempts) expect(h.error).toBe(failed.lastError);
      const polled = await poll(tpp, requestId);
      expect(polled).toMatchObject({ status: 'failed', error: 'temporarily_unavailable' });
      expect(polled).not.toHaveProperty('registration');
      // The client and its event are committed; only the gateway has not applied it.
      expect(await pipeline.rt.adapters.store.getClient(clientId)).toMatchObject({ status: 'active', requestId });

      // The gateway starts (from the beginning of the topic) and applies the event; then a replay.
      await gateway.subscribe(pipeline.rt);
      await gateway.appliedOne((e) => e.type === 'dcr.client.created' && e.subject === clientId);
      const replay = await replayRegistration(pipeline.rt.adapters.store, pipeline.rt.dispatcher, requestId, { actor: 'events-test', onCommitted: () => pipeline.rt.kickRelay() });
      expect(replay.replayed).toBe(true);
      const registered = await settled(pipeline.rt, requestId);
      expect(registered.status).toBe('registered');
      expect(registered.clientId).toBe(clientId);
      const after = await poll(tpp, requestId);
      expect(after).toMatchObject({ status: 'registered', client_id: clientId });
      expect(after.registration).toMatchObject({ client_id: clientId });
      expect(registered.history.filter((h) => h.event === 'replayed')).toHaveLength(1);
      // One created event: the replay waited for the same event (its id derives from the request).
      await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
      const created = pipeline.events.filter((e) => e.type === 'dcr.client.created' && e.subject === clientId);
      expect(new Set(created.map((e) => e.id)).size).toBe(1);
      expect(gateway.applied.some((a) => a.event.id === created[0]?.id)).toBe(true);
    });
  });
});
