/**
 * Issue 20: an RFC 7592 DELETE is an intent that always completes. A delete killed between the AS
 * delete and our commit leaves the client `deleting` (GET/PUT 401, no event yet); the delete sweep
 * finishes it (AS delete again, `deleted`, one `dcr.client.deleted` under its stable id), or the
 * TPP repeating the DELETE does; an update being provisioned while the intent lands does not bring
 * the client back, here or at the AS. On the embedded set and on MongoDB + BullMQ + Kafka, with the
 * sandbox AS (its real store: SQLite under the data dir, or its MongoDB collection).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteClient, deletedEventId } from '../../core/clients/delete-client.js';
import type { Client } from '../../core/domain/client.js';
import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import type { Store } from '../../core/ports/store.js';
import { DeleteSweep } from '../../core/pipeline/delete-sweep.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { openAsStore, type AsStore } from '../../sandbox/sandbox-as/index.js';
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

type Registered = { client_id: string; registration_access_token: string };

const KILLED = 'killed after the AS delete, before the commit';

/** The store, except that its first write of `deleted` fails, as a process killed right before it. */
function killedBeforeDeletedCommit(store: Store): Store {
  let killed = false;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'updateClient') {
        return async (...args: Parameters<Store['updateClient']>) => {
          if (!killed && args[2].set.status === 'deleted') {
            killed = true;
            throw new Error(KILLED);
          }
          return target.updateClient(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each(adapterSets)('client deletes that always complete, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let as: AuthorizationServerPort;
  let asStore: AsStore;
  let store: Store;
  /** Run once, inside the provisioner's next AS upsert, before it reaches the AS. */
  let beforeUpsert: ((clientId: string) => Promise<void>) | null = null;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    if (skip) return;
    // No periodic sweep: the tests run one with a clock past the threshold.
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), stages: false, env: { DCR_RECONCILE_INTERVAL_MS: '0' } });
    const { rt } = pipeline;
    store = rt.adapters.store;
    as = await rt.authorizationServer();
    asStore = await openAsStore(rt.config);
    const real = as;
    // The provisioner's AS: the real one, with a hook to land a DELETE while an update is being provisioned.
    const hooked: AuthorizationServerPort = {
      name: real.name,
      upsertClient: async (client) => {
        const hook = beforeUpsert;
        beforeUpsert = null;
        await hook?.(client.clientId);
        await real.upsertClient(client);
      },
      deleteClient: (clientId) => real.deleteClient(clientId),
      awaitApplied: (change) => real.awaitApplied(change),
      close: async () => {},
    };
    const stage = new ProvisioningStage({ profile: rt.profile, store, sealer: rt.sealer, publicUrl: rt.config.publicUrl, as: hooked, applyWaitMs: 1000, onCommitted: () => rt.kickRelay() });
    const stages = [await startVerifier(rt), startRevocation(rt)];
    const provisioner = new StageRunner(stage, stageRunnerDeps(rt)).start(1);
    stop = async () => {
      await provisioner.close();
      await Promise.all(stages.map((s) => s.stop()));
    };
    tpp = await pipeline.createTpp('deleter');
  });
  afterAll(async () => {
    await stop?.();
    await asStore?.close();
    await pipeline?.stop();
  });

  const manage = (method: 'GET' | 'PUT' | 'DELETE', clientId: string, token: string, body?: string): Promise<HttpResponse> =>
    httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, {
      method,
      identity: tpp.identity,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/jose' } : {}) },
      ...(body ? { body } : {}),
    });
  async function register(): Promise<Registered> {
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);
    return res.json<Registered>();
  }
  const atAs = async (clientId: string) => (await asStore.getClient(clientId))?.status;
  const events = (clientId: string, type: string) => pipeline.events.filter((e) => e.type === type && e.subject === clientId);
  const pastThreshold = () => new Date(Date.now() + pipeline.rt.config.reconcile.afterMs + 1000);
  /** A DELETE whose process dies after the AS delete, before the commit: the client is left `deleting`. */
  async function killedDelete(client: Client): Promise<Client> {
    await expect(deleteClient(killedBeforeDeletedCommit(store), as, client)).rejects.toThrow(KILLED);
    const deleting = await store.getClient(client.clientId);
    expect(deleting).toMatchObject({ status: 'deleting', version: client.version + 1, deleteRequestedAt: expect.any(String) });
    expect(await atAs(client.clientId)).toBe('deleted');
    return deleting!;
  }

  it.skipIf(skip)('a delete killed between the AS delete and the commit: GET/PUT 401, then the sweep finishes it with one dcr.client.deleted', async () => {
    const { client_id: clientId, registration_access_token: token } = await register();
    const client = (await store.getClient(clientId))!;
    expect(await atAs(clientId)).toBe('active');
    await killedDelete(client);

    // The TPP asked for it to go: its GET and PUT are the 401 of a deleted client.
    expect((await manage('GET', clientId, token)).status).toBe(401);
    expect((await manage('PUT', clientId, token, await tpp.sign(tpp.claims({ scope: 'openid payments' })))).status).toBe(401);

    // Before the threshold, a delete that may still be running is left alone.
    const sweep = pipeline.rt.deleteSweep!;
    expect(await sweep.sweepOnce()).toEqual({ checked: 0, finished: 0, failed: 0 });
    expect(await sweep.sweepOnce(pastThreshold())).toEqual({ checked: 1, finished: 1, failed: 0 });
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleted', version: client.version + 2 });
    expect(await atAs(clientId)).toBe('deleted');
    const deleted = await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === clientId);
    expect(deleted.id).toBe(deletedEventId(clientId));
    expect(deleted.data).toMatchObject({ client_id: clientId, status: 'deleted' });
    expect((await pipeline.rt.metrics.deletesFinished.get()).values[0]?.value).toBeGreaterThanOrEqual(1);

    // Done: a second sweep finds nothing, the TPP's DELETE is now a 401, and there was one event.
    expect(await sweep.sweepOnce(pastThreshold())).toEqual({ checked: 0, finished: 0, failed: 0 });
    expect((await manage('DELETE', clientId, token)).status).toBe(401);
    expect(await store.getClient(clientId)).toMatchObject({ version: client.version + 2 });
    expect(events(clientId, 'dcr.client.deleted')).toHaveLength(1);
  });

  it.skipIf(skip)('the TPP repeating the DELETE finishes a killed one: 204, deleted, one event, nothing left to sweep', async () => {
    const { client_id: clientId, registration_access_token: token } = await register();
    const client = (await store.getClient(clientId))!;
    await killedDelete(client);

    const again = await manage('DELETE', clientId, token);
    expect(again.status).toBe(204);
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleted', version: client.version + 2 });
    expect(await atAs(clientId)).toBe('deleted');
    const deleted = await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === clientId);
    expect(deleted.id).toBe(deletedEventId(clientId));
    expect(await pipeline.rt.deleteSweep!.sweepOnce(pastThreshold())).toEqual({ checked: 0, finished: 0, failed: 0 });
    expect((await manage('DELETE', clientId, token)).status).toBe(401);
    expect(events(clientId, 'dcr.client.deleted')).toHaveLength(1);
  });

  it.skipIf(skip)('an AS that fails during the sweep: counted as failed, the client stays deleting; the next sweep finishes it', async () => {
    const { client_id: clientId } = await register();
    const client = (await store.getClient(clientId))!;
    await killedDelete(client);
    let asUp = false;
    const flaky: AuthorizationServerPort = {
      name: as.name,
      upsertClient: (c) => as.upsertClient(c),
      deleteClient: (id) => (asUp ? as.deleteClient(id) : Promise.reject(new Error('AS unreachable'))),
      awaitApplied: (c) => as.awaitApplied(c),
      close: async () => {},
    };
    // A sweep of its own (its own lease name: the pipeline's relay holds the relay lease).
    const sweep = new DeleteSweep(store, async () => flaky, { info() {}, warn() {}, error() {} }, { owner: 'test-sweeper', leaseName: `test-delete-sweep-${clientId}`, afterMs: pipeline.rt.config.reconcile.afterMs });
    expect(await sweep.sweepOnce(pastThreshold())).toEqual({ checked: 1, finished: 0, failed: 1 });
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleting', version: client.version + 1 });
    asUp = true;
    expect(await sweep.sweepOnce(pastThreshold())).toEqual({ checked: 1, finished: 1, failed: 0 });
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleted', version: client.version + 2 });
    const deleted = await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === clientId);
    expect(deleted.id).toBe(deletedEventId(clientId));
    expect(events(clientId, 'dcr.client.deleted')).toHaveLength(1);
  });

  it.skipIf(skip)('an update being provisioned when the delete intent lands does not resurrect the client, here or at the AS', async () => {
    const { client_id: clientId, registration_access_token: token } = await register();
    const client = (await store.getClient(clientId))!;
    // The update has read the active client and is about to tell the AS: the DELETE lands now (and dies
    // after its AS delete), so the update's upsert reaches the AS after the delete did.
    beforeUpsert = async (upserted) => {
      if (upserted === clientId) await killedDelete((await store.getClient(clientId))!);
    };
    const put = await manage('PUT', clientId, token, await tpp.sign(tpp.claims({ scope: 'openid payments' })));
    expect(beforeUpsert).toBeNull();
    expect(put.status).toBe(400);
    expect(put.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringContaining('deleted') });
    // The update wrote nothing; the AS, which got the update's upsert after the delete, was told again.
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleting', version: client.version + 1, lastRequestId: client.lastRequestId, metadata: client.metadata });
    expect(await atAs(clientId)).toBe('deleted');

    expect(await pipeline.rt.deleteSweep!.sweepOnce(pastThreshold())).toEqual({ checked: 1, finished: 1, failed: 0 });
    expect(await store.getClient(clientId)).toMatchObject({ status: 'deleted', version: client.version + 2, metadata: client.metadata });
    expect(await atAs(clientId)).toBe('deleted');
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.deleted' && e.subject === clientId);
    expect(events(clientId, 'dcr.client.updated')).toEqual([]);
    expect(events(clientId, 'dcr.client.deleted')).toHaveLength(1);
  });
});
