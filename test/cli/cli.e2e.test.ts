import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EXIT } from '../../sandbox/cli/exit.js';
import type { InfraUrls } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';
import { ANSI, baseEnv, runCli, startStandalone, type CliResult, type StartedPipeline } from './helpers.js';

/**
 * The CLI's behaviour (exit codes, output, data-dir discovery) does not depend on the adapter set,
 * and each of its calls is a process of its own (≈ 65 s per set): it runs against the embedded
 * pipeline only, to keep `npm test` under 15 minutes. `dcr-pipeline ops` against the distributed
 * adapters is covered by test/ops/admin-replay.test.ts. Set DCR_TEST_CLI_DISTRIBUTED=1 for both.
 */
const infra = inject('infra') as InfraUrls | undefined;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ...(process.env.DCR_TEST_CLI_DISTRIBUTED === '1' ? [['distributed (MongoDB + BullMQ + Kafka)', infra ?? null] as [string, InfraUrls | null]] : []),
];

/** Each CLI call is a Node process of its own (a few seconds on a busy machine). */
const SLOW = 600_000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe.each(adapterSets)('the dcr-pipeline CLI against npm start, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let root: string;
  let project: string;
  let env: Record<string, string>;
  let pipeline: StartedPipeline;
  const results: CliResult[] = [];

  /** The CLI from a subdirectory of the project, finding var/ on its own (no DCR_DATA_DIR). */
  const cli = async (...args: string[]): Promise<CliResult> => {
    const { DCR_DATA_DIR: _, ...rest } = env;
    const r = await runCli(args, { env: baseEnv(rest), cwd: join(project, 'sub', 'deeper') });
    results.push(r);
    return r;
  };

  beforeAll(async () => {
    if (skip) return;
    root = await mkdtemp(join(tmpdir(), 'dcr-cli-'));
    // A directory that already holds a sandbox is found like git finds .git.
    project = join(root, 'project');
    await mkdir(join(project, 'sub', 'deeper'), { recursive: true });
    const [https, sandbox, as, admin] = await Promise.all([freeTcpPort(), freeTcpPort(), freeTcpPort(), freeTcpPort()]);
    const namespace = `c${randomBytes(5).toString('hex')}`;
    env = {
      DCR_DATA_DIR: join(project, 'var'),
      DCR_HTTPS_PORT: String(https),
      DCR_PUBLIC_URL: `https://localhost:${https}`,
      DCR_SANDBOX_PORT: String(sandbox),
      DCR_SANDBOX_BASE_URL: `https://localhost:${sandbox}`,
      DCR_AS_PORT: String(as),
      DCR_ADMIN_PORT: String(admin),
      DCR_STAGE_ATTEMPTS: '2',
      DCR_RETRY_BASE_DELAY_MS: '1000',
      DCR_NAMESPACE: namespace,
      ...(infraUrls
        ? { DCR_MONGO_URL: `${infraUrls.mongoUrl.replace(/\/$/, '')}/dcr_${namespace}`, DCR_REDIS_URL: infraUrls.redisUrl, DCR_KAFKA_BROKERS: infraUrls.kafkaBrokers }
        : {}),
    };
    // Before the first start: a TPP whose organisation is revoked, and the outage on. Only
    // `sandbox tpp create` may create the sandbox (run with DCR_DATA_DIR: var/ does not exist yet).
    const created = await runCli(['sandbox', 'tpp', 'create', 'gamma'], { env: baseEnv(env), cwd: root });
    expect(created.code, created.stderr).toBe(EXIT.ok);
    expect((await cli('sandbox', 'revoke', 'org', 'gamma')).code).toBe(EXIT.ok);
    expect((await cli('sandbox', 'outage', 'on')).code).toBe(EXIT.ok);
    pipeline = await startStandalone(baseEnv(env));
  }, SLOW);

  afterAll(async () => {
    if (skip) return;
    await pipeline?.stop();
    await rm(root, { recursive: true, force: true });
  }, SLOW);

  it.skipIf(skip)('the banner states the persisted outage and the revocations; the hints say what the caches do', async () => {
    expect(pipeline.banner).toContain('sandbox outage is ON');
    expect(pipeline.banner).toContain('dcr-pipeline sandbox outage off');
    expect(pipeline.banner).toContain('sandbox TPP gamma: revoked organisation');
    const off = await cli('sandbox', 'outage', 'off');
    expect(off.code).toBe(EXIT.ok);
    expect(off.json()).toEqual({ outage: false });

    const revoke = await cli('sandbox', 'revoke', 'software', 'gamma');
    expect(revoke.code).toBe(EXIT.ok);
    expect(revoke.stderr).toContain('once the pipeline\'s cached directory answer has expired');
    expect(revoke.stderr).toContain('Until then a register still succeeds');
  }, SLOW);

  it.skipIf(skip)('usage errors exit 2 and change nothing: --roles FOO, --timeout abc, an unknown command; --version exits 0', async () => {
    const version = await cli('--version');
    expect(version.code).toBe(EXIT.ok);
    expect(version.stdout).toMatch(/^dcr-pipeline \d+\.\d+\.\d+ \(node v\d+/);

    const roles = await cli('sandbox', 'tpp', 'create', 'foo', '--roles', 'FOO');
    expect(roles.code).toBe(EXIT.usage);
    expect(roles.stderr).toContain("unknown role 'FOO'");
    const list = await cli('sandbox', 'tpp', 'list', '--json');
    expect(list.json<{ tpps: Array<{ name: string }> }>().tpps.map((t) => t.name)).toEqual(['gamma']);

    const timeout = await cli('register', '--tpp', 'gamma', '--timeout', 'abc');
    expect(timeout.code).toBe(EXIT.usage);
    expect(timeout.stderr).toContain("got 'abc'");
    expect((await cli('bogus')).code).toBe(EXIT.usage);
    const unknownTpp = await cli('register', '--tpp', 'nobody');
    expect(unknownTpp.code).toBe(EXIT.usage);
    expect(unknownTpp.stderr).toContain("no sandbox TPP named 'nobody'");
  }, SLOW);

  it.skipIf(skip)('outside the project it refuses (exit 7) and creates no second sandbox', async () => {
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    const { DCR_DATA_DIR: _, ...rest } = env;
    for (const args of [['sandbox', 'tpp', 'create', 'acme'], ['sandbox', 'tpp', 'list']]) {
      const r = await runCli(args, { env: baseEnv(rest), cwd: elsewhere });
      expect(r.code).toBe(EXIT.config);
      expect(r.stderr).toContain('no DCR data directory found');
    }
    expect(await readdir(elsewhere)).toEqual([]);
    // The checkout itself is found by its package.json (name dcr-pipeline), from any subdirectory.
    const checkout = join(root, 'checkout');
    await mkdir(join(checkout, 'src'), { recursive: true });
    await writeFile(join(checkout, 'package.json'), JSON.stringify({ name: 'dcr-pipeline' }));
    const inCheckout = await runCli(['sandbox', 'tpp', 'list'], { env: baseEnv(rest), cwd: join(checkout, 'src') });
    expect(inCheckout.code).toBe(EXIT.usage);
    expect(inCheckout.stderr).toContain(`no sandbox in ${join(checkout, 'var')} yet`);
    expect(existsSync(join(checkout, 'var'))).toBe(false);
  }, SLOW);

  it.skipIf(skip)('register prints the request id; client list, token, status without a signing key, an unknown client', async () => {
    expect((await cli('sandbox', 'tpp', 'create', 'acme', '--roles', 'AISP,PISP')).code).toBe(EXIT.ok);
    const reg = await cli('register', '--tpp', 'acme');
    expect(reg.code, reg.stderr).toBe(EXIT.ok);
    const requestId = UUID.exec(reg.stderr)?.[0];
    expect(reg.stderr).toMatch(new RegExp(`request ${requestId}: registered`));
    const clientId = reg.json<{ client_id: string }>().client_id;
    expect(clientId).toMatch(/^[A-Za-z0-9]+$/);

    const list = await cli('client', 'list', '--json');
    expect(list.code).toBe(EXIT.ok);
    expect(list.json()).toEqual([expect.objectContaining({ client_id: clientId, tpp: 'acme', request_id: requestId, registration_access_token: true })]);

    const token = await cli('token', '--tpp', 'acme');
    expect(token.code, token.stderr).toBe(EXIT.ok);
    expect(token.json()).toMatchObject({ access_token: expect.any(String), token_type: expect.stringMatching(/bearer/i) });

    // GET needs no signing key: the sandbox TPP is found from the request id, or the transport files do.
    const status = await cli('status', requestId as string);
    expect(status.code, status.stderr).toBe(EXIT.ok);
    expect(status.json()).toMatchObject({ request_id: requestId, status: 'registered', client_id: clientId });
    const tppDir = join(project, 'var', 'sandbox', 'tpps', 'acme');
    const byFiles = await cli('status', requestId as string, '--cert', join(tppDir, 'transport.crt.pem'), '--key', join(tppDir, 'transport.key.pem'), '--ca', join(project, 'var', 'sandbox', 'ca.crt.pem'));
    expect(byFiles.code, byFiles.stderr).toBe(EXIT.ok);
    expect(byFiles.json()).toMatchObject({ request_id: requestId, status: 'registered' });

    const typo = await cli('client', 'get', `${clientId}x`, '--tpp', 'acme', '--as-token');
    expect(typo.code).toBe(EXIT.rejected);
    expect(typo.stderr).toContain(`unknown client '${clientId}x'`);
    expect(typo.stderr).toContain(`its clients: ${clientId}`);
    const read = await cli('client', 'get', clientId, '--tpp', 'acme', '--as-token');
    expect(read.code, read.stderr).toBe(EXIT.ok);
    expect(read.json()).toMatchObject({ client_id: clientId });

    // The event line of the new client (JSON: stdout is not a terminal).
    const lines = pipeline.output().split('\n').filter((l) => l.startsWith('{'));
    const event = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.type === 'dcr.client.created' && l.subject === clientId);
    expect(event?.msg).toMatch(new RegExp(`^event dcr.client.created ${clientId} \\(id ${UUID.source}\\): registered`));
  }, SLOW);

  it.skipIf(skip)('a rejection exits 3, nothing listening exits 5', async () => {
    const rejected = await cli('register', '--tpp', 'gamma');
    expect(rejected.code).toBe(EXIT.rejected);
    expect(rejected.json()).toMatchObject({ error: 'unapproved_software_statement' });
    expect(rejected.stderr).toMatch(new RegExp(`request ${UUID.source}: answered HTTP 400`));

    const closed = await freeTcpPort();
    const unreachable = await cli('register', '--tpp', 'acme', '--url', `https://localhost:${closed}`);
    expect(unreachable.code).toBe(EXIT.unreachable);
    expect(unreachable.stderr).toContain('is not reachable (ECONNREFUSED)');
    const ops = await cli('ops', 'failed', '--admin-url', `http://127.0.0.1:${closed}`);
    expect(ops.code).toBe(EXIT.unreachable);
  }, SLOW);

  it.skipIf(skip)('--async: failed is final (exit 4), a timeout exits 6, and after ops replay the TPP finds its client', async () => {
    expect((await cli('sandbox', 'tpp', 'create', 'beta')).code).toBe(EXIT.ok);
    expect((await cli('sandbox', 'tpp', 'create', 'delta')).code).toBe(EXIT.ok);
    expect((await cli('sandbox', 'outage', 'on')).code).toBe(EXIT.ok);

    // Two attempts 1 s apart: the first poll, right after the 202, cannot see it final yet.
    const slow = await cli('register', '--tpp', 'delta', '--async', '--timeout', '1');
    expect(slow.code).toBe(EXIT.timeout);
    expect(slow.stderr).toContain('poll later with: dcr-pipeline status');

    const failed = await cli('register', '--tpp', 'beta', '--async', '--timeout', '60000');
    expect(failed.code, failed.stderr).toBe(EXIT.failed);
    expect(failed.json()).toMatchObject({ status: 'failed', error: 'temporarily_unavailable' });
    const noClient = await cli('token', '--tpp', 'beta');
    expect(noClient.code).toBe(EXIT.usage);
    expect(noClient.stderr).toContain('no client');

    expect((await cli('sandbox', 'outage', 'off')).code).toBe(EXIT.ok);
    const replay = await cli('ops', 'replay', '--all', '--timeout', '60000');
    expect(replay.code, replay.stderr).toBe(EXIT.ok);
    expect(replay.stderr).toContain('2/2 settled: 2 registered');

    const token = await cli('token', '--tpp', 'beta');
    expect(token.code, token.stderr).toBe(EXIT.ok);
    expect(token.json()).toMatchObject({ access_token: expect.any(String) });
    const list = await cli('client', 'list', '--tpp', 'delta', '--json');
    expect(list.json<Array<{ tpp: string }>>()).toEqual([expect.objectContaining({ tpp: 'delta' })]);
  }, SLOW);

  it.skipIf(skip)('piped output carries no colour codes; request logs stay out of the info log', () => {
    expect(results.length).toBeGreaterThan(20);
    for (const r of results) {
      expect(r.stdout).not.toMatch(ANSI);
      expect(r.stderr).not.toMatch(ANSI);
    }
    const out = pipeline.output();
    expect(out).not.toMatch(ANSI);
    const records = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; level?: number });
    expect(records.some((r) => r.msg?.startsWith('event dcr.registration.failed'))).toBe(true);
    expect(records.filter((r) => r.msg === 'incoming request' || r.msg === 'request completed')).toEqual([]);
  }, SLOW);
});
