/**
 * The sandbox adapter of the authorization-server port (DCR_AS_PROVISIONING=sandbox) and the
 * provision stage's exactly-once promise at the AS: a crash between the AS call and our commit
 * leaves exactly one client at the AS after the stage runs again.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../core/ports/store.js';
import { StageRunner } from '../../core/pipeline/stage-runner.js';
import { stageRunnerDeps } from '../../platform/runtime/stage-deps.js';
import { ProvisioningStage } from '../../services/provisioner/stage.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { openAsStore, SandboxAsProvisioning, type AsStore } from '../../sandbox/sandbox-as/index.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';

function asClientCount(dataDir: string): number {
  const db = new Database(join(dataDir, 'sandbox-as.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('the sandbox authorization-server adapter', () => {
  let pipeline: TestPipeline;
  let store: AsStore;
  let as: SandboxAsProvisioning;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ stages: false });
    store = await openAsStore(pipeline.rt.config);
    as = new SandboxAsProvisioning(store);
  });
  afterAll(async () => {
    await as?.close();
    await pipeline?.stop();
  });

  it('upsert is keyed by client_id: twice leaves one client, with the last metadata; delete of an absent client is fine', async () => {
    const base = { clientId: 'SandboxAdapterClient1', orgId: 'org1', softwareId: 'sw1' };
    await as.upsertClient({ ...base, metadata: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=a', scope: 'openid accounts' } });
    await as.upsertClient({ ...base, metadata: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=b', scope: 'openid payments' } });
    const record = await store.getClient(base.clientId);
    expect(record).toMatchObject({ status: 'active', data: { client_id: base.clientId, tls_client_auth_subject_dn: 'CN=b', scope: 'openid payments' } });
    await as.deleteClient(base.clientId);
    expect((await store.getClient(base.clientId))?.status).toBe('deleted');
    await expect(as.deleteClient(base.clientId)).resolves.toBeUndefined();
    await expect(as.deleteClient('NoSuchClient')).resolves.toBeUndefined();
    expect(await as.awaitApplied({ clientId: base.clientId, eventId: 'x', deadline: Date.now() })).toBe(true);
  });

  it('a stage that dies between the AS upsert and the client insert, retried, leaves one client at the AS and one in the store', async () => {
    const { rt } = pipeline;
    let killed = 0;
    // The provision stage's store dies once right after the AS call, as a provisioner killed there.
    const crashOnce: Store = new Proxy(rt.adapters.store, {
      get(target, property, receiver) {
        if (property === 'insertClient' && killed === 0) {
          return async () => {
            killed += 1;
            throw new Error('provisioner killed after the AS call, before the commit');
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const stage = new ProvisioningStage({ profile: rt.profile, store: crashOnce, sealer: rt.sealer, publicUrl: rt.config.publicUrl, as, applyWaitMs: 1000 });
    const stages = [await startVerifier(rt), startRevocation(rt)];
    const provisioner = new StageRunner(stage, stageRunnerDeps(rt)).start(1);
    try {
      const before = asClientCount(pipeline.dataDir);
      const tpp = await pipeline.createTpp('crashy');
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status).toBe(201);
      const { client_id: clientId } = res.json<{ client_id: string }>();
      expect(killed).toBe(1);
      // Exactly one more client at the AS, the one the TPP was given, and the same one in our store.
      expect(asClientCount(pipeline.dataDir)).toBe(before + 1);
      expect((await store.getClient(clientId))?.status).toBe('active');
      const client = await rt.adapters.store.getClient(clientId);
      const registration = await rt.adapters.store.getRegistration(String(client?.requestId));
      expect(registration?.clientId).toBe(clientId);
      expect(registration?.history.filter((h) => h.event === 'attempt_failed' && h.stage === 'provision').map((h) => h.error)).toEqual([
        expect.stringContaining('provisioner killed after the AS call'),
      ]);
    } finally {
      await provisioner.close();
      await Promise.all(stages.map((s) => s.stop()));
    }
  });
});
