/**
 * SPEC §4 step 19 / §12 over HTTP: custom validators loaded from DCR_VALIDATORS_FILE at start-up
 * and run by the verifier after the built-in checks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVerifier } from '../../services/verifier/service.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const EXAMPLE = resolve(import.meta.dirname, '../../services/verifier/metadata/examples/require-software-mode-live.ts');

/** A validators file in a directory of its own; `module` paths are written relative to it. */
async function validatorsFile(dir: string, entries: Array<Record<string, unknown>>): Promise<string> {
  const file = join(dir, 'validators.json');
  await writeFile(file, JSON.stringify(entries, null, 2));
  return file;
}

async function newRegistrations(pipeline: TestPipeline, before: ReadonlySet<string>) {
  const all = await pipeline.rt.adapters.store.listRegistrations({ limit: 1000 });
  return all.filter((r) => !before.has(r.id));
}

async function registrationIds(pipeline: TestPipeline): Promise<Set<string>> {
  return new Set((await pipeline.rt.adapters.store.listRegistrations({ limit: 1000 })).map((r) => r.id));
}

describe.each([
  ['enabled (allowTest: false)', true],
  ['disabled', false],
])('custom validator require-software-mode-live %s', (_label, enabled) => {
  let dir: string;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-validators-'));
    const file = await validatorsFile(dir, [
      {
        name: 'require-software-mode-live',
        module: relative(dir, EXAMPLE),
        enabled,
        priority: 100,
        options: { allowTest: false },
        profiles: ['obie-3.3', 'obie-3.2'],
      },
    ]);
    pipeline = await startTestPipeline({ env: { DCR_VALIDATORS_FILE: file } });
    tpp = await pipeline.createTpp('modetest');
  });
  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`a sandbox SSA (software_mode 'Test') is ${enabled ? 'rejected 400 unapproved_software_statement' : 'registered 201'}`, async () => {
    const before = await registrationIds(pipeline);
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    const [recorded] = await newRegistrations(pipeline, before);
    if (enabled) {
      expect(res.status).toBe(400);
      expect(res.json()).toEqual({
        error: 'unapproved_software_statement',
        error_description: "software_mode 'Test': test software is not accepted by this server",
      });
      expect(recorded?.status).toBe('rejected');
      expect(recorded?.clientId ?? null).toBeNull();
      expect(recorded?.outcome?.error).toBe('unapproved_software_statement');
    } else {
      expect(res.status).toBe(201);
      const clientId = String(res.json().client_id);
      expect((await pipeline.rt.adapters.store.getClient(clientId))?.status).toBe('active');
    }
  });

  it.runIf(enabled)('an SSA with software_mode Live passes the validator: 201', async () => {
    const ssa = await pipeline.directory.issueSsa(tpp.sandbox.name, { software_mode: 'Live' });
    const res = await tpp.post(await tpp.sign(tpp.claims({ software_statement: ssa })));
    expect(res.status).toBe(201);
    expect(res.json().software_mode).toBe('Live');
    expect((await pipeline.rt.adapters.store.getClient(String(res.json().client_id)))?.status).toBe('active');
  });

  it.runIf(enabled)('runs on update (PUT) too, with the registered metadata: a Test SSA is refused, a Live one accepted', async () => {
    const live = await pipeline.directory.issueSsa(tpp.sandbox.name, { software_mode: 'Live' });
    const created = await tpp.post(await tpp.sign(tpp.claims({ software_statement: live })));
    expect(created.status).toBe(201);
    const { client_id: clientId, registration_access_token: token } = created.json<{ client_id: string; registration_access_token: string }>();
    const put = async (ssa: string) =>
      httpsRequest(`${pipeline.intakeUrl}/register/${clientId}`, {
        method: 'PUT',
        identity: tpp.identity,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/jwt' },
        body: await tpp.sign(tpp.claims({ software_statement: ssa, scope: 'openid accounts' })),
      });

    const refused = await put(tpp.credentials.ssa);
    expect(refused.status).toBe(400);
    expect(refused.json().error).toBe('unapproved_software_statement');
    expect((await pipeline.rt.adapters.store.getClient(clientId))?.metadata.scope).not.toBe('openid accounts');

    const accepted = await put(live);
    expect(accepted.status).toBe(200);
    expect(accepted.json().scope).toBe('openid accounts');
  });

  it.runIf(enabled)('built-in checks run first: a bad aud is invalid_client_metadata, not the validator', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims({ aud: 'https://other-bank.example' })));
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_client_metadata');
  });
});

describe('a custom validator that throws or answers retryable', () => {
  let dir: string;
  let pipeline: TestPipeline;
  let tpp: TestTpp;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-validators-'));
    // Plain ESM modules next to the file, as a bank would deploy them.
    await writeFile(
      join(dir, 'bank-service.mjs'),
      `export default {
        name: 'bank-service',
        create(options) {
          return {
            name: 'bank-service',
            validatePost(ctx) {
              if (ctx.claims.client_name === 'throw') throw new Error('bank service unreachable');
              if (ctx.claims.client_name === 'retry') return { ok: false, retryable: true, reason: 'bank_service_down', description: 'try later' };
              if (ctx.claims.client_name === 'unknown-code') return { ok: false, error: 'server_error', description: 'x' };
              if (ctx.claims.client_name === 'redirect') return { ok: false, error: 'invalid_redirect_uri', description: options.message };
              return { ok: true };
            },
            validateUpdate() { return { ok: true }; },
          };
        },
      };\n`,
    );
    const file = await validatorsFile(dir, [{ name: 'bank-service', module: './bank-service.mjs', priority: 1, options: { message: 'vetoed by the bank' } }]);
    pipeline = await startTestPipeline({ env: { DCR_VALIDATORS_FILE: file, DCR_SYNC_WAIT_MS: '15000', DCR_STAGE_ATTEMPTS: '2' } });
    tpp = await pipeline.createTpp('bankvalidated');
  });
  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a validator's rejection is a 400 with the validator's code", async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims({ client_name: 'redirect' })));
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_redirect_uri', error_description: 'vetoed by the bank' });
  });

  it.each(['throw', 'retry', 'unknown-code'])('%s: the registration ends failed (retryable), never a 500 or a 400, and no client', async (name) => {
    const before = await registrationIds(pipeline);
    const res = await tpp.post(await tpp.sign(tpp.claims({ client_name: name })));
    expect(res.status).toBe(202);
    const { request_id: requestId } = res.json<{ request_id: string; status: string }>();
    expect(res.json().status).toBe('failed');
    const [recorded] = await newRegistrations(pipeline, before);
    expect(recorded?.id).toBe(requestId);
    expect(recorded?.status).toBe('failed');
    expect(recorded?.failedStage).toBe('verify');
    expect(recorded?.clientId ?? null).toBeNull();
    expect(recorded?.lastError).toMatch(name === 'retry' ? /bank_service_down/ : /custom_validator/);
    // Status polling shows it too, as not the TPP's fault.
    const polled = await tpp.get(`/register/requests/${requestId}`);
    expect(polled.json().status).toBe('failed');
  });

  it('a passing validator lets the registration through: 201', async () => {
    const res = await tpp.post(await tpp.sign(tpp.claims({ client_name: 'fine' })));
    expect(res.status).toBe(201);
  });
});

describe('start-up: startVerifier is awaitable until the validator modules are loaded', () => {
  let dir: string;
  let pipeline: TestPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-validators-'));
    await writeFile(join(dir, 'broken.mjs'), 'export default {\n');
    pipeline = await startTestPipeline({ stages: false });
  });
  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const withFile = (validatorsFile: string): Runtime => ({ ...pipeline.rt, config: { ...pipeline.rt.config, validatorsFile } });

  it('starts once the validators are loaded', async () => {
    const file = await validatorsFile(dir, [{ name: 'live', module: relative(dir, EXAMPLE), priority: 1 }]);
    const running = await startVerifier(withFile(file));
    await running.stop();
  });

  it('rejects with the ConfigurationError when a module cannot be imported, so start-up stops', async () => {
    const file = await validatorsFile(dir, [{ name: 'broken', module: './broken.mjs', priority: 1 }]);
    const started = startVerifier(withFile(file));
    await expect(started).rejects.toThrow(/^DCR_VALIDATORS_FILE: .*entry 0 \('broken'\): module .*broken\.mjs cannot be loaded/);
    await expect(started).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('rejects for a file that is wrong on its face', async () => {
    const file = await validatorsFile(dir, [{ name: 'gone', module: './gone.mjs', priority: 1 }]);
    await expect(startVerifier(withFile(file))).rejects.toBeInstanceOf(ConfigurationError);
  });
});
