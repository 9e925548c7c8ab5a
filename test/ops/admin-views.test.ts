import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Registration, RegistrationStatus } from '../../core/domain/registration.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { poll } from '../support/wait.js';

const infra = inject('infra') as InfraUrls | undefined;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

interface Row {
  request_id: string;
  status: string;
  stage: string | null;
  client_id: string | null;
  client_status: string | null;
  software_id: string | null;
  org_id: string | null;
  tpp: string;
  error: string | null;
  last_error: string | null;
}
interface ClientRow {
  client_id: string;
  status: string;
  client_name: string | null;
  org_id: string;
  software_id: string;
  tpp: string;
  request_id: string;
  last_request_id: string;
  created_at: string;
  updated_at: string;
}

/**
 * The admin API behind the dashboard v2: search by id, the error filter on rejection codes, rows
 * with their stage and their client's status, the clients list (deleted clients included) and the
 * chart data, on both adapter sets.
 */
describe.each(adapterSets)('ops views: search, clients, stats, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let ops: RunningOps;
  let acme: TestTpp;
  let globex: TestTpp;
  let initech: TestTpp;
  let registered: { client_id: string; registration_access_token: string };
  const ids: Record<'registered' | 'rejected' | 'failed' | 'second', string> = { registered: '', rejected: '', failed: '', second: '' };

  const call = async (path: string, token: string | null = ops.token.token) => {
    const res = await fetch(`${ops.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, text, json: <T,>() => JSON.parse(text) as T };
  };
  const rows = async (query: string) => {
    const res = await call(`/admin/registrations?${query}`);
    expect(res.status, res.text).toBe(200);
    return res.json<{ registrations: Row[] }>().registrations;
  };
  const waitFor = (id: string, status: RegistrationStatus) =>
    poll(`${id} to be ${status}`, async () => {
      const r = await pipeline.rt.adapters.store.getRegistration(id);
      return r?.status === status ? r : undefined;
    });

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_ADMIN_PORT: '0', DCR_ADMIN_HOST: '127.0.0.1' } });
    ops = await startOps(pipeline.rt, { announce: () => {} });
    acme = await pipeline.createTpp('acme');
    globex = await pipeline.createTpp('globex');
    initech = await pipeline.createTpp('initech');

    const created = await acme.post(await acme.sign(acme.claims()));
    expect(created.status, created.text).toBe(201);
    registered = created.json();
    ids.registered = String((await pipeline.rt.adapters.store.listClients({ clientIds: [registered.client_id] }))[0]?.requestId);
    const second = await acme.post(await acme.sign(acme.claims()));
    expect(second.status, second.text).toBe(201);
    ids.second = String((await pipeline.rt.adapters.store.listClients({ clientIds: [second.json<{ client_id: string }>().client_id] }))[0]?.requestId);

    const rejected = await globex.post(await globex.sign(globex.claims({ aud: 'https://other-bank.example' })), { prefer: 'respond-async' });
    ids.rejected = rejected.json<{ request_id: string }>().request_id;
    await waitFor(ids.rejected, 'rejected');

    // A TPP whose keys are not cached yet: the verifier needs the directory, which is down.
    await pipeline.directory.setOutage(true);
    const failed = await initech.post(await initech.sign(initech.claims()), { prefer: 'respond-async' });
    ids.failed = failed.json<{ request_id: string }>().request_id;
    await waitFor(ids.failed, 'failed');
    await pipeline.directory.setOutage(false);

    // RFC 7592 §2.3: the TPP deletes its first client.
    const del = await httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(registered.client_id)}`, {
      method: 'DELETE',
      identity: acme.identity,
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    expect(del.status, del.text).toBe(204);
  }, 120_000);
  afterAll(async () => {
    await ops?.stop();
    await pipeline?.stop();
  });

  it.skipIf(skip)('every row names its TPP, software, client, stage and its client\'s status now', async () => {
    const all = await rows('limit=50');
    const byId = new Map(all.map((r) => [r.request_id, r]));
    const first = byId.get(ids.registered) as Row;
    expect(first).toMatchObject({ status: 'registered', client_id: registered.client_id, client_status: 'deleted', stage: null, software_id: acme.sandbox.softwareId, org_id: acme.sandbox.orgId });
    expect(byId.get(ids.second)).toMatchObject({ status: 'registered', client_status: 'active' });
    // A rejected row names the stage that rejected it; a failed one the stage it failed in.
    expect(byId.get(ids.rejected)).toMatchObject({ status: 'rejected', stage: 'verify', client_id: null, client_status: null });
    expect(byId.get(ids.failed)).toMatchObject({ status: 'failed', stage: 'verify' });
    expect(byId.get(ids.failed)?.last_error).toContain('directory_unreachable');

    const detail = await call(`/admin/registrations/${ids.registered}`);
    expect(detail.json()).toMatchObject({ status: 'registered', client_status: 'deleted' });
  });

  it.skipIf(skip)('searches by request, client, software, organisation id and TPP identity (exact)', async () => {
    expect((await rows(`q=${ids.failed}`)).map((r) => r.request_id)).toEqual([ids.failed]);
    expect((await rows(`q=${encodeURIComponent(registered.client_id)}`)).map((r) => r.request_id)).toEqual([ids.registered]);
    expect((await rows(`q=${encodeURIComponent(acme.sandbox.softwareId)}`)).map((r) => r.request_id).sort()).toEqual([ids.registered, ids.second].sort());
    expect((await rows(`q=${encodeURIComponent(acme.sandbox.orgId)}`)).map((r) => r.request_id).sort()).toEqual([ids.registered, ids.second].sort());
    // The rejected request never got a verified software id: the TPP identity of its certificate finds it.
    const tppIdentity = ((await pipeline.rt.adapters.store.getRegistration(ids.rejected)) as Registration).certificate.tppIdentity;
    expect((await rows(`q=${encodeURIComponent(tppIdentity)}`)).map((r) => r.request_id)).toContain(ids.rejected);
    expect(await rows(`q=${acme.sandbox.softwareId.slice(0, 6)}`)).toEqual([]);
    // Combined with a status filter.
    expect((await rows(`q=${encodeURIComponent(acme.sandbox.orgId)}&status=failed`))).toEqual([]);
    expect((await rows(`q=${encodeURIComponent(tppIdentity)}&status=rejected`)).map((r) => r.request_id)).toEqual([ids.rejected]);
  });

  it.skipIf(skip)('filters by error text, matching rejection codes as well as the last error, and by time', async () => {
    const rejection = ((await pipeline.rt.adapters.store.getRegistration(ids.rejected)) as Registration).outcome?.error as string;
    expect(rejection).toBeTruthy();
    expect((await rows(`error=${encodeURIComponent(rejection)}`)).map((r) => r.request_id)).toEqual([ids.rejected]);
    expect((await rows('error=directory_unreachable')).map((r) => r.request_id)).toEqual([ids.failed]);
    expect(await rows(`until=${encodeURIComponent('2020-01-01T00:00:00Z')}`)).toEqual([]);
    expect((await rows(`since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).length).toBe(4);
  });

  it.skipIf(skip)('lists clients with their status, deleted ones included, and links them to their requests', async () => {
    const res = await call('/admin/clients?limit=50');
    expect(res.status, res.text).toBe(200);
    const clients = res.json<{ clients: ClientRow[]; next_before: string | null }>();
    expect(clients.next_before).toBeNull();
    expect(clients.clients.map((c) => c.status)).toEqual(['active', 'deleted']);
    const deleted = clients.clients[1] as ClientRow;
    expect(deleted).toMatchObject({ client_id: registered.client_id, status: 'deleted', org_id: acme.sandbox.orgId, software_id: acme.sandbox.softwareId, request_id: ids.registered });
    expect(Object.keys(deleted).sort()).toEqual(['client_id', 'client_name', 'created_at', 'last_request_id', 'org_id', 'request_id', 'software_id', 'status', 'tpp', 'updated_at']);
    expect(res.text).not.toContain('tokenHash');

    expect((await call('/admin/clients?status=deleted')).json<{ clients: ClientRow[] }>().clients.map((c) => c.client_id)).toEqual([registered.client_id]);
    expect((await call(`/admin/clients?q=${encodeURIComponent(acme.sandbox.orgId)}`)).json<{ clients: ClientRow[] }>().clients).toHaveLength(2);
    expect((await call(`/admin/clients?q=${encodeURIComponent(globex.sandbox.orgId)}`)).json<{ clients: ClientRow[] }>().clients).toEqual([]);
    const page = (await call('/admin/clients?limit=1')).json<{ clients: ClientRow[]; next_before: string }>();
    expect(page.clients).toHaveLength(1);
    const next = (await call(`/admin/clients?limit=1&before=${encodeURIComponent(page.next_before)}`)).json<{ clients: ClientRow[] }>();
    expect(next.clients.map((c) => c.client_id)).toEqual([registered.client_id]);
  });

  it.skipIf(skip)('answers the charts: outcomes per bucket, stage latency p50/p99 from the history, queue depth samples', async () => {
    const res = await call('/admin/stats?window=1h');
    expect(res.status, res.text).toBe(200);
    const s = res.json<{
      window: string;
      bucket_seconds: number;
      time: number[];
      outcomes: Record<string, number[]>;
      latency_ms: Record<string, { p50: Array<number | null>; p99: Array<number | null> }>;
      registrations_read: number;
      truncated: boolean;
      queue: { time: number[]; depth: Record<string, number[]> };
    }>();
    expect(s).toMatchObject({ window: '1h', bucket_seconds: 60, registrations_read: 4, truncated: false });
    expect(s.time).toHaveLength(60);
    const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
    expect({ registered: sum(s.outcomes.registered ?? []), rejected: sum(s.outcomes.rejected ?? []), failed: sum(s.outcomes.failed ?? []) }).toEqual({ registered: 2, rejected: 1, failed: 1 });
    for (const stage of ['verify', 'revocation', 'provision']) {
      const p50 = (s.latency_ms[stage]?.p50 ?? []).filter((v): v is number => v !== null);
      const p99 = (s.latency_ms[stage]?.p99 ?? []).filter((v): v is number => v !== null);
      expect(p50.length, stage).toBeGreaterThan(0);
      p50.forEach((v, i) => expect(v).toBeLessThanOrEqual(p99[i] as number));
    }
    expect(s.queue.time.length).toBeGreaterThan(0);
    expect(Object.keys(s.queue.depth).sort()).toEqual(['provision', 'revocation', 'verify']);
    expect((await call('/admin/stats?window=7d')).json()).toMatchObject({ window: '7d', bucket_seconds: 21_600 });
  });

  it.skipIf(skip)('refuses bad input with a 400 JSON error and every route without the token with a 401', async () => {
    for (const path of ['/admin/stats?window=2h', '/admin/clients?status=gone', '/admin/clients?colour=red', '/admin/registrations?q=two%20words', '/admin/registrations?q=', '/admin/clients?before=yesterday']) {
      const res = await call(path);
      expect(res.status, path).toBe(400);
      expect(res.json(), path).toMatchObject({ error: 'invalid_request' });
      expect(String(res.json<{ error_description: string }>().error_description).length, path).toBeGreaterThan(0);
    }
    for (const path of ['/admin/stats', '/admin/clients']) {
      const res = await call(path, null);
      expect(res.status, path).toBe(401);
      expect(res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });
});
