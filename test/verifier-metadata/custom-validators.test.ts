import { describe, expect, it } from 'vitest';
import { RegistrationRejection, RetryableFailure } from '../../core/domain/errors.js';
import { getProfile } from '../../core/profiles/index.js';
import {
  orderValidators,
  runCustomValidators,
  type CustomValidator,
  type CustomValidatorContext,
  type RegisteredCustomValidator,
} from '../../services/verifier/metadata/custom-validator.js';
import requireLive, { createRequireSoftwareModeLive } from '../../services/verifier/metadata/examples/require-software-mode-live.js';
import { validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import { NOW, input, obieSsa } from './fixtures.js';

function context(ssa = obieSsa()): CustomValidatorContext {
  const base = input({ ssa });
  return {
    profile: base.profile,
    claims: base.claims,
    ssa,
    certificate: base.certificate,
    metadata: validateRegistrationMetadata(base),
    now: NOW,
  };
}

const pass = (name: string, log: string[]): CustomValidator => ({
  name,
  validatePost: () => {
    log.push(name);
    return { ok: true };
  },
  validateUpdate: () => {
    log.push(`${name}:update`);
    return { ok: true };
  },
});

describe('runCustomValidators (SPEC §12)', () => {
  it('runs enabled validators for the profile in priority order', async () => {
    const log: string[] = [];
    const validators: RegisteredCustomValidator[] = [
      { validator: pass('c', log), priority: 30 },
      { validator: pass('a', log), priority: 10 },
      { validator: pass('b1', log), priority: 20 },
      { validator: pass('b2', log), priority: 20 },
      { validator: pass('off', log), priority: 1, enabled: false },
      { validator: pass('cdr-only', log), priority: 1, profiles: ['cdr'] },
    ];
    await runCustomValidators(validators, context());
    expect(log).toEqual(['a', 'b1', 'b2', 'c']);
    expect(orderValidators(validators, 'cdr').map((v) => v.validator.name)).toEqual(['cdr-only', 'a', 'b1', 'b2', 'c']);
  });

  it('calls validateUpdate with the existing metadata on update', async () => {
    const log: string[] = [];
    const ctx = context();
    let seen: unknown;
    const v: CustomValidator = { ...pass('u', log), validateUpdate: (_c, existing) => ((seen = existing), { ok: true }) };
    await runCustomValidators([{ validator: v, priority: 1 }], ctx, { kind: 'update', existing: ctx.metadata });
    expect(seen).toBe(ctx.metadata);
  });

  it('stops at the first rejection with its code', async () => {
    const log: string[] = [];
    const rejecting: CustomValidator = {
      name: 'no',
      validatePost: async () => ({ ok: false, error: 'invalid_redirect_uri', description: 'redirect host mismatch' }),
      validateUpdate: () => ({ ok: true }),
    };
    const promise = runCustomValidators([{ validator: rejecting, priority: 1 }, { validator: pass('later', log), priority: 2 }], context());
    await expect(promise).rejects.toBeInstanceOf(RegistrationRejection);
    await expect(promise).rejects.toMatchObject({ error: 'invalid_redirect_uri', errorDescription: 'redirect host mismatch' });
    expect(log).toEqual([]);
  });

  it('turns exceptions, retryable verdicts and malformed verdicts into RetryableFailure', async () => {
    const throwing: CustomValidator = { name: 'boom', validatePost: () => { throw new Error('bank service down'); }, validateUpdate: () => ({ ok: true }) };
    await expect(runCustomValidators([{ validator: throwing, priority: 1 }], context())).rejects.toBeInstanceOf(RetryableFailure);
    await expect(runCustomValidators([{ validator: throwing, priority: 1 }], context())).rejects.toMatchObject({ reason: 'custom_validator' });

    const retry: CustomValidator = { name: 'r', validatePost: () => ({ ok: false, retryable: true, reason: 'bank_api_down', description: 'x' }), validateUpdate: () => ({ ok: true }) };
    await expect(runCustomValidators([{ validator: retry, priority: 1 }], context())).rejects.toMatchObject({ reason: 'bank_api_down' });

    const malformed = { name: 'm', validatePost: () => ({ ok: false, error: 'server_error', description: 'x' }), validateUpdate: () => ({ ok: true }) } as unknown as CustomValidator;
    await expect(runCustomValidators([{ validator: malformed, priority: 1 }], context())).rejects.toBeInstanceOf(RetryableFailure);
    const empty = { name: 'e', validatePost: () => undefined, validateUpdate: () => ({ ok: true }) } as unknown as CustomValidator;
    await expect(runCustomValidators([{ validator: empty, priority: 1 }], context())).rejects.toBeInstanceOf(RetryableFailure);
  });
});

describe('example: require-software-mode-live', () => {
  it('rejects Test software unless allowTest', async () => {
    const testSsa = obieSsa({ software_mode: 'Test' });
    const strict = createRequireSoftwareModeLive({ allowTest: false });
    expect(strict.validatePost(context(testSsa))).toEqual({ ok: false, error: 'unapproved_software_statement', description: expect.stringContaining('Test') });
    expect(strict.validatePost(context())).toEqual({ ok: true });
    expect(createRequireSoftwareModeLive({ allowTest: true }).validatePost(context(testSsa))).toEqual({ ok: true });
    await expect(runCustomValidators([{ validator: strict, priority: 100 }], context(testSsa))).rejects.toMatchObject({
      error: 'unapproved_software_statement',
    });
  });

  it('is loadable by configuration with validated options', () => {
    expect(requireLive.name).toBe('require-software-mode-live');
    expect(requireLive.create({}).validatePost(context(obieSsa({ software_mode: 'test' })))).toMatchObject({ ok: false });
    expect(requireLive.create({ allowTest: true }).validatePost(context(obieSsa({ software_mode: 'Test' })))).toEqual({ ok: true });
    expect(() => requireLive.create({ allowTest: 'yes' })).toThrow(/allowTest/);
    expect(() => requireLive.create({ other: 1 })).toThrow();
    expect(getProfile('obie-3.3').ssa.claims.softwareMode).toBe('software_mode');
  });
});
