/**
 * DCR_VALIDATORS_FILE (SPEC §12): the file's shape, module resolution relative to the file, and one
 * clear ConfigurationError naming the variable and the entry on any problem.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { runCustomValidators } from '../../services/verifier/metadata/custom-validator.js';
import { validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import { loadValidatorsFile, readValidatorsFile } from '../../services/verifier/validators.js';
import { input, NOW, obieSsa } from '../verifier-metadata/fixtures.js';

const EXAMPLE = resolve(import.meta.dirname, '../../services/verifier/metadata/examples/require-software-mode-live.ts');

let dir: string;
let counter = 0;

async function fileWith(content: unknown): Promise<string> {
  const file = join(dir, `validators-${++counter}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function configurationError(path: string): Promise<ConfigurationError> {
  try {
    await loadValidatorsFile(path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    const configError = error as ConfigurationError;
    expect(configError.variable).toBe('DCR_VALIDATORS_FILE');
    expect(configError.message.split('\n')).toHaveLength(1);
    return configError;
  }
  throw new Error('expected a ConfigurationError');
}

const example = (extra: Record<string, unknown> = {}) => ({ name: 'live-only', module: relative(dir, EXAMPLE), priority: 10, ...extra });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcr-validators-file-'));
  await writeFile(join(dir, 'no-default.mjs'), 'export const name = "x";\n');
  await writeFile(join(dir, 'bad-validator.mjs'), 'export default { name: "bad", create() { return { name: "bad" }; } };\n');
  await writeFile(join(dir, 'syntax-error.mjs'), 'export default {\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DCR_VALIDATORS_FILE', () => {
  it('is read from the environment; unset means no validators', () => {
    expect(loadConfig({ DCR_VALIDATORS_FILE: '/etc/dcr/validators.json' }, { sandboxByDefault: true }).validatorsFile).toBe('/etc/dcr/validators.json');
    expect(loadConfig({}, { sandboxByDefault: true }).validatorsFile).toBeUndefined();
  });

  it('loads the example module, resolved relative to the file, with its options', async () => {
    const file = await fileWith([example({ options: { allowTest: false }, profiles: ['obie-3.3'] })]);
    const [entry] = readValidatorsFile(file);
    expect(entry?.modulePath).toBe(EXAMPLE);
    const validators = await loadValidatorsFile(file);
    expect(validators).toHaveLength(1);
    expect(validators[0]).toMatchObject({ priority: 10, profiles: ['obie-3.3'] });
    expect(validators[0]?.validator.name).toBe('require-software-mode-live');

    // The loaded validator does what the module says: a Test SSA is unapproved.
    const base = input({ ssa: obieSsa({ software_mode: 'Test' }) });
    const ctx = { profile: base.profile, claims: base.claims, ssa: base.ssa, certificate: base.certificate, metadata: validateRegistrationMetadata(base), now: NOW };
    await expect(runCustomValidators(validators, ctx)).rejects.toMatchObject({ error: 'unapproved_software_statement' });
  });

  it("uses the module's defaultOptions when the entry has none; skips disabled entries without loading them", async () => {
    const file = await fileWith([example(), { name: 'later', module: './not-deployed-yet.mjs', priority: 1, enabled: false }]);
    const validators = await loadValidatorsFile(file);
    expect(validators.map((v) => v.validator.name)).toEqual(['require-software-mode-live']);
  });

  it.each([
    ['not JSON', '[{"name": ', /is not valid JSON/],
    ['duplicate members', '[{"name":"a","name":"b","module":"./x.mjs","priority":1}]', /duplicate member name 'name'/],
    ['not an array', { validators: [] }, /must be a JSON array/],
    ['a missing priority', [{ name: 'live-only', module: './x.mjs' }], /entry 0 \('live-only'\).*priority/],
    ['an unknown member', [{ name: 'a', module: './x.mjs', priority: 1, class: 'com.example.Validator' }], /entry 0 \('a'\)/],
    ['an unknown profile', [{ name: 'a', module: './x.mjs', priority: 1, profiles: ['obie-9'] }], /entry 0 \('a'\) \/profiles\/0/],
    ['a twice-used name', [{ name: 'a', module: './no-default.mjs', priority: 1, enabled: false }, { name: 'a', module: './no-default.mjs', priority: 2, enabled: false }], /entry 1 \('a'\): the name is used twice/],
    ['a module that does not exist', [{ name: 'gone', module: './gone.mjs', priority: 1 }], /entry 0 \('gone'\): module .*gone\.mjs does not exist/],
    ['a module without a default export', [{ name: 'nd', module: './no-default.mjs', priority: 1 }], /entry 0 \('nd'\): .*no default export/],
    ['a module that does not load', [{ name: 'se', module: './syntax-error.mjs', priority: 1 }], /entry 0 \('se'\): module .* cannot be loaded/],
    ['a create() that returns no validator', [{ name: 'bad', module: './bad-validator.mjs', priority: 1 }], /entry 0 \('bad'\): bad\.create\(\) did not return a validator/],
  ])('refuses %s with one line naming the variable and the entry', async (_case, content, message) => {
    const error = await configurationError(await fileWith(content));
    expect(error.message).toMatch(/^DCR_VALIDATORS_FILE: /);
    expect(error.message).toMatch(message);
  });

  it('refuses options the module rejects, naming the entry', async () => {
    const error = await configurationError(await fileWith([example({ options: { allowTest: 'yes' } })]));
    expect(error.message).toMatch(/entry 0 \('live-only'\): options refused: .*allowTest must be boolean/);
  });

  it('refuses an unreadable file', async () => {
    const error = await configurationError(join(dir, 'missing.json'));
    expect(error.message).toMatch(/missing\.json: cannot be read/);
  });
});
