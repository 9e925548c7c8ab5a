import { execFile } from 'node:child_process';
import { stat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { Registration, RegistrationStatus } from '../../core/domain/registration.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { poll } from '../support/wait.js';

const infra = inject('infra') as InfraUrls | undefined;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

/** Prometheus text: the value of one series (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe.each(adapterSets)('operations: failures, replay, metrics, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let pipeline: TestPipeline;
  let ops: RunningOps;
  let token: string;
  const announced: string[] = [];

  const call = async (method: string, path: string, options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpResult> => {
    const headers: Record<string, string> = { ...options.headers };
    const bearer = options.token === undefined ? token : options.token;
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${ops.url}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: <T,>() => JSON.parse(text) as T };
  };
  const store = () => pipeline.rt.adapters.store;

  async function submitAsync(tpp: TestTpp, overrides: Record<string, unknown> = {}): Promise<string> {
    const res = await tpp.post(await tpp.sign(tpp.claims(overrides)), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    return res.json<{ request_id: string }>().request_id;
  }

  async function waitForStatus(id: string, status: RegistrationStatus, generation?: number): Promise<Registration> {
    let last: Registration | null = null;
    try {
      return await poll(`${id} to be ${status}`, async () => {
        last = await store().getRegistration(id);
        return last && last.status === status && (generation === undefined || last.generation === generation) ? last : undefined;
      });
    } catch (error) {
      const seen = last as Registration | null;
      throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(seen ? { status: seen.status, generation: seen.generation, lastError: seen.lastError, history: seen.history } : null)}`);
    }
  }

  beforeAll(async () => {
    if (skip) return;
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_ADMIN_PORT: '0', DCR_ADMIN_HOST: '127.0.0.1' } });
    ops = await startOps(pipeline.rt, { announce: (line) => announced.push(line) });
    token = ops.token.token;
  });
  afterAll(async () => {
    await ops?.stop();
    await pipeline?.stop();
  });

  it.skipIf(skip)('generates a sandbox admin token, announces it once and keeps it in a 0600 file', async () => {
    expect(ops.token.source).toBe('generated');
    const file = join(pipeline.dataDir, 'admin-token');
    expect(ops.token.file).toBe(file);
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(announced).toHaveLength(1);
    expect(announced[0]).toContain(token);
  });

  it.skipIf(skip)('keeps failures, replays them in bulk once the directory is back, and registers each exactly once', async () => {
    const before = (await call('GET', '/metrics')).text;
    const tpps = [await pipeline.createTpp(), await pipeline.createTpp(), await pipeline.createTpp()];

    await pipeline.directory.setOutage(true);
    const ids = await Promise.all(tpps.map((t) => submitAsync(t)));
    for (const id of ids) {
      const failed = await waitForStatus(id, 'failed');
      expect(failed.failedStage).toBe('verify');
      expect(failed.lastError).toContain('directory_unreachable');
    }

    // The admin API lists them, newest first, with the stage and the error.
    const list = await call('GET', '/admin/registrations?status=failed&limit=50');
    expect(list.status).toBe(200);
    const listed = list.json<{ registrations: Array<{ request_id: string; status: string; failed_stage: string; last_error: string }> }>().registrations;
    expect(listed.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    for (const r of listed) {
      expect(r.status).toBe('failed');
      expect(r.failed_stage).toBe('verify');
      expect(r.last_error).toContain('directory_unreachable');
    }
    const submittedOrder = [...(await Promise.all(ids.map((id) => store().getRegistration(id))))]
      .map((r) => r as Registration)
      .sort((a, b) => b.submittedAt.localeCompare(a.submittedAt) || b.id.localeCompare(a.id))
      .map((r) => r.id);
    expect(listed.map((r) => r.request_id)).toEqual(submittedOrder);

    // One registration's full history: every attempt and its error, no secrets.
    const detail = await call('GET', `/admin/registrations/${ids[0]}`);
    expect(detail.status).toBe(200);
    const d = detail.json<{ history: Array<{ event: string; attempt?: number; error?: string; to?: string }>; attempts: Record<string, number> }>();
    expect(d.history.filter((h) => h.event === 'attempt_failed').map((h) => h.attempt)).toEqual([1, 2]);
    expect(d.history.at(-1)).toMatchObject({ event: 'transition', to: 'failed', attempt: 3 });
    // every stage entry names the worker instance that wrote it (service@host:pid)
    const stageEntries = (d.history as Array<{ event: string; stage?: string; worker?: string }>).filter((h) => h.stage !== undefined && (h.event === 'transition' || h.event === 'attempt_failed'));
    expect(stageEntries.map((h) => h.worker)).toEqual(
      Array(4).fill(expect.stringMatching(/^[a-z-]+@.+:\d+$/)),
    );
    expect(d.attempts.verify).toBe(3);
    const raw = (await store().getRegistration(ids[0] as string)) as Registration;
    expect(detail.text).not.toContain(raw.body.slice(0, 40));
    for (const secret of ['sealedToken', 'tokenHash', 'sealed_token', 'token_hash', '"body"']) expect(detail.text).not.toContain(secret);

    // Metrics moved: three verify jobs failed after two retries each.
    const during = (await call('GET', '/metrics')).text;
    const delta = (t: string, stage: string, outcome: string) => sample(t, 'dcr_stage_jobs_total', { stage, outcome }) - sample(before, 'dcr_stage_jobs_total', { stage, outcome });
    expect(delta(during, 'verify', 'failed')).toBe(3);
    expect(delta(during, 'verify', 'retry')).toBe(6);
    expect(sample(during, 'dcr_registrations', { status: 'failed' })).toBeGreaterThanOrEqual(3);

    // Several operators replay the same request at once while the directory is still down: one wins.
    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => call('POST', `/admin/registrations/${ids[0]}/replay`, { headers: { 'x-actor': `racer${i}` } })),
    );
    expect(racers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(racers.filter((r) => r.json().replayed === true)).toHaveLength(1);
    const again = await waitForStatus(ids[0] as string, 'failed', 1);
    expect(again.history.filter((h) => h.event === 'replayed')).toHaveLength(1);

    // A dry run counts and changes nothing.
    const versions = await Promise.all(ids.map(async (id) => (await store().getRegistration(id))?.version));
    const dry = await call('POST', '/admin/replay', { body: { status: 'failed', dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.json()).toMatchObject({ matched: 3, replayed: 3, skipped: 0, dryRun: true });
    expect(await Promise.all(ids.map(async (id) => (await store().getRegistration(id))?.version))).toEqual(versions);

    // The directory is back: one bulk replay, audited with its actor.
    await pipeline.directory.setOutage(false);
    const bulk = await call('POST', '/admin/replay', { body: { status: 'failed' }, headers: { 'x-actor': 'alice' } });
    expect(bulk.status).toBe(200);
    expect(bulk.json()).toMatchObject({ matched: 3, replayed: 3, skipped: 0, dryRun: false, actor: 'alice' });
    expect(bulk.json<{ requestIds: string[] }>().requestIds.sort()).toEqual([...ids].sort());

    const registered = await Promise.all(ids.map((id) => waitForStatus(id, 'registered')));
    const clientIds = registered.map((r) => r.clientId as string);
    expect(new Set(clientIds).size).toBe(3);
    for (const r of registered) {
      const client = await store().getClient(r.clientId as string);
      expect(client?.requestId).toBe(r.id);
      const replays = r.history.filter((h) => h.event === 'replayed');
      expect(replays.at(-1)).toMatchObject({ actor: 'alice', stage: 'verify', from: 'failed', to: 'received' });
      expect(r.lastError ?? null).toBeNull();
    }

    // Exactly one dcr.client.created per client, once the outbox has drained.
    await Promise.all(clientIds.map((c) => pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === c)));
    await Promise.all(ids.map((id) => pipeline.waitForEvent((e) => e.type === 'dcr.registration.replayed' && e.subject === id && e.data.actor === 'alice')));
    await poll('the outbox to drain', async () => ((await store().pendingOutbox(10)).length === 0 ? true : undefined));
    for (const c of clientIds) expect(pipeline.events.filter((e) => e.type === 'dcr.client.created' && e.subject === c)).toHaveLength(1);

    const after = (await call('GET', '/metrics')).text;
    expect(delta(after, 'verify', 'advanced')).toBeGreaterThanOrEqual(3);
    expect(delta(after, 'provision', 'advanced')).toBeGreaterThanOrEqual(3);
    expect(sample(after, 'dcr_replays_total', { result: 'replayed' })).toBeGreaterThanOrEqual(4);
    expect(after).toMatch(/dcr_stage_duration_seconds_bucket\{[^}]*stage="verify"/);
    expect(after).toMatch(/dcr_queue_jobs\{[^}]*stage="provision"[^}]*state="waiting"/);
    expect(after).toMatch(/^dcr_outbox_pending\{[^}]*\} \d+$/m);

    // Replaying a registered request changes nothing and says so; the bulk filter finds nothing left.
    const target = registered[0] as Registration;
    const noop = await call('POST', `/admin/registrations/${target.id}/replay`);
    expect(noop.status).toBe(200);
    expect(noop.json()).toMatchObject({ replayed: false });
    expect(String(noop.json().reason)).toContain('registered');
    const unchanged = await store().getRegistration(target.id);
    expect(unchanged?.version).toBe(target.version);
    expect(unchanged?.clientId).toBe(target.clientId);
    expect((await call('POST', '/admin/replay', { body: {} })).json()).toMatchObject({ matched: 0, replayed: 0 });
    expect((await call('POST', `/admin/registrations/${target.id}/replay?force=true`)).json()).toMatchObject({ replayed: false });
  });

  it.skipIf(skip)('dcr ops: lists failures, shows a timeline, counts a dry run and replays everything with progress', async () => {
    const cliMain = resolve('sandbox/cli/main.ts');
    const dcr = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      const script = `const { run } = await import(${JSON.stringify(cliMain)}); await run(['node', 'dcr', ...process.argv.slice(1)]);`;
      // No DCR_ADMIN_TOKEN: the CLI finds the sandbox token file under DCR_DATA_DIR.
      const env: Record<string, string | undefined> = { ...process.env, ...pipeline.env, DCR_ADMIN_PORT: String(ops.port) };
      delete env.DCR_ADMIN_TOKEN;
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], { env, timeout: 60_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    const tpp = await pipeline.createTpp();
    await pipeline.directory.setOutage(true);
    const id = await submitAsync(tpp);
    await waitForStatus(id, 'failed');

    const failed = await dcr('ops', 'failed', '--json');
    expect(failed.code, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout).registrations.map((r: { request_id: string }) => r.request_id)).toEqual([id]);
    const human = await dcr('ops', 'failed');
    expect(human.stdout).toContain(`${id}  failed in verify`);

    const show = await dcr('ops', 'show', id);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('attempt_failed');
    expect(show.stdout).toContain('directory_unreachable');

    const dry = await dcr('ops', 'replay', '--all', '--dry-run', '--since', '1h');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('1 would be replayed');
    expect((await store().getRegistration(id))?.status).toBe('failed');

    await pipeline.directory.setOutage(false);
    const replay = await dcr('ops', 'replay', '--all', '--actor', 'carol', '--timeout', '30000');
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toContain('replayed 1');
    expect(replay.stderr).toContain('1/1 settled: 1 registered');
    const done = await store().getRegistration(id);
    expect(done?.status).toBe('registered');
    expect(done?.history.find((h) => h.event === 'replayed')?.actor).toBe('carol');

    const again = await dcr('ops', 'replay', id);
    expect(again.code).toBe(3); // EXIT.rejected: the admin API said no
    expect(again.stdout).toContain('not replayed');
    const explicitUrl = await dcr('ops', 'failed', '--status', 'registered', '--admin-url', `${ops.url}/`);
    expect(explicitUrl.code, explicitUrl.stderr).toBe(0);
    expect(explicitUrl.stdout).toContain(id);
  }, 180_000);

  it.skipIf(skip)('replays a request that failed in provisioning after its client was created: same client, no second event', async () => {
    const tpp = await pipeline.createTpp();
    const created = await tpp.post(await tpp.sign(tpp.claims()));
    expect(created.status).toBe(201);
    const clientId = String(created.json().client_id);
    await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
    const requestId = (await store().getClient(clientId))?.requestId as string;
    const registered = (await store().getRegistration(requestId)) as Registration;

    // The state a provisioner leaves when the client insert committed but the final transition never
    // did (the store went away for all its attempts): failed in provision, client id reserved.
    const failed = await store().updateRegistration(registered, {
      set: { status: 'failed', failedStage: 'provision', lastError: 'store_unavailable: the final commit did not happen', outcome: null },
      history: [{ at: new Date().toISOString(), event: 'transition', stage: 'provision', from: 'provisioning', to: 'failed', attempt: 3, error: 'store_unavailable' }],
    });
    expect(failed?.status).toBe('failed');

    const res = await call('POST', `/admin/registrations/${requestId}/replay`, { headers: { 'x-actor': 'dave' } });
    expect(res.json()).toMatchObject({ replayed: true, stage: 'provision' });
    const again = await waitForStatus(requestId, 'registered', registered.generation + 1);
    expect(again.clientId).toBe(clientId);
    expect(again.tokenHash).toBe(registered.tokenHash);
    expect((await store().getClient(clientId))?.requestId).toBe(requestId);
    await pipeline.waitForEvent((e) => e.type === 'dcr.registration.replayed' && e.subject === requestId);
    await poll('the outbox to drain', async () => ((await store().pendingOutbox(10)).length === 0 ? true : undefined));
    expect(pipeline.events.filter((e) => e.type === 'dcr.client.created' && e.subject === clientId)).toHaveLength(1);
  });

  it.skipIf(skip)('replays a rejected request only when forced, and it is verified again', async () => {
    const tpp = await pipeline.createTpp();
    const id = await submitAsync(tpp, { aud: 'https://other-bank.example' });
    const rejected = await waitForStatus(id, 'rejected');
    const plain = await call('POST', `/admin/registrations/${id}/replay`);
    expect(plain.json()).toMatchObject({ replayed: false });
    expect(String(plain.json().reason)).toContain('force');
    expect((await store().getRegistration(id))?.version).toBe(rejected.version);
    expect((await call('POST', '/admin/replay', { body: { status: 'rejected' } })).status).toBe(400);

    const forced = await call('POST', `/admin/registrations/${id}/replay?force=true`, { headers: { 'x-actor': 'bob' } });
    expect(forced.json()).toMatchObject({ replayed: true, stage: 'verify', actor: 'bob' });
    const again = await waitForStatus(id, 'rejected', rejected.generation + 1);
    expect(again.outcome?.error).toBe('invalid_client_metadata');
    const detail = (await call('GET', `/admin/registrations/${id}`)).json<{ history: Array<{ event: string; actor?: string; from?: string }>; error: string }>();
    expect(detail.history.find((h) => h.event === 'replayed')).toMatchObject({ actor: 'bob', from: 'rejected' });
    expect(detail.error).toBe('invalid_client_metadata');
  });

  it.skipIf(skip)('pages newest first with next_before', async () => {
    const first = (await call('GET', '/admin/registrations?limit=1')).json<{ registrations: Array<{ request_id: string; submitted_at: string }>; next_before: string }>();
    expect(first.registrations).toHaveLength(1);
    expect(first.next_before).toBe(first.registrations[0]?.submitted_at);
    const second = (await call('GET', `/admin/registrations?limit=1&before=${encodeURIComponent(first.next_before)}`)).json<{
      registrations: Array<{ request_id: string; submitted_at: string }>;
    }>();
    expect(second.registrations).toHaveLength(1);
    expect(second.registrations[0]?.request_id).not.toBe(first.registrations[0]?.request_id);
    expect((second.registrations[0]?.submitted_at ?? '') < first.next_before).toBe(true);
  });

  it.skipIf(skip)('answers bad input with 4xx JSON, never 5xx', async () => {
    for (const path of ['/admin/registrations?status=bogus', '/admin/registrations?limit=0', '/admin/registrations?since=yesterday', '/admin/registrations?extra=1']) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    }
    expect((await call('GET', '/admin/registrations/no-such-request')).status).toBe(404);
    expect((await call('POST', '/admin/registrations/no-such-request/replay')).status).toBe(404);
    const typo = await call('POST', '/admin/replay', { body: { statuss: 'registered' } });
    expect(typo.status).toBe(400);
    const badActor = await call('POST', '/admin/replay', { body: { dryRun: true }, headers: { 'x-actor': 'bad actor' } });
    expect(badActor.status).toBe(400);
    const notJson = await fetch(`${ops.url}/admin/replay`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toBe('invalid_request');
  });

  it.skipIf(skip)('refuses the API and metrics without the admin token or with a wrong one (401 JSON)', async () => {
    for (const [method, path] of [
      ['GET', '/admin/registrations'],
      ['GET', '/admin/registrations/x'],
      ['POST', '/admin/registrations/x/replay'],
      ['POST', '/admin/replay'],
      ['GET', '/admin/summary'],
      ['GET', '/metrics'],
    ] as const) {
      for (const bad of [null, 'wrong-token-wrong-token', `${token}x`]) {
        const res = await call(method, path, { token: bad, ...(method === 'POST' ? { body: {} } : {}) });
        expect(res.status, `${method} ${path} with ${bad === null ? 'no' : 'a wrong'} token`).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('Bearer');
        expect(res.json()).toHaveProperty('error_description');
      }
    }
    // Health and the dashboard's static page need no token; the page holds no data.
    expect((await call('GET', '/health/live', { token: null })).status).toBe(200);
    expect((await call('GET', '/health/ready', { token: null })).status).toBe(200);
    const page = await call('GET', '/admin/', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await call('GET', '/admin/dashboard.js', { token: null })).status).toBe(200);
  });

  it.skipIf(skip)('serves a summary of counts, queues and outbox lag for the dashboard', async () => {
    const res = await call('GET', '/admin/summary');
    expect(res.status).toBe(200);
    const body = res.json<{ counts: Record<string, number>; queues: Record<string, { waiting: number }>; outbox_pending: number }>();
    expect(body.counts.registered).toBeGreaterThanOrEqual(3);
    expect(Object.keys(body.queues).sort()).toEqual(['provision', 'revocation', 'verify']);
    expect(typeof body.outbox_pending).toBe('number');
  });

  it.skipIf(skip)('refuses to start without DCR_ADMIN_TOKEN outside the sandbox, and uses a configured token', async () => {
    const rt = pipeline.rt;
    const production: Runtime = { ...rt, config: { ...rt.config, sandbox: false, admin: { host: '127.0.0.1', port: 0 } } };
    const refused = await startOps(production).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as ConfigurationError).variable).toBe('DCR_ADMIN_TOKEN');

    const configured = 'c'.repeat(40);
    const lines: string[] = [];
    const withToken = await startOps({ ...production, config: { ...production.config, admin: { host: '127.0.0.1', port: 0, token: configured } } }, { announce: (l) => lines.push(l) });
    try {
      expect(withToken.token.source).toBe('config');
      expect(lines).toEqual([]);
      const ok = await fetch(`${withToken.url}/admin/registrations?limit=1`, { headers: { authorization: `Bearer ${configured}` } });
      expect(ok.status).toBe(200);
      const generatedElsewhere = await fetch(`${withToken.url}/admin/registrations?limit=1`, { headers: { authorization: `Bearer ${token}` } });
      expect(generatedElsewhere.status).toBe(401);
    } finally {
      await withToken.stop();
    }
  });
});
