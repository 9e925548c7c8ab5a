/**
 * The check registry and the combination rules of core/revocation/evaluate.ts, with checks written
 * against the RevocationCheck interface (the real checks run against the sandbox directory in
 * evidence.test.ts and pipeline.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { RegistrationRejection, RetryableFailure } from '../../core/domain/errors.js';
import { accepted, refused, retryable, SourceUnavailable, type CheckContext, type CheckVerdict, type RevocationCheck } from '../../core/revocation/check.js';
import { CHECK_ORDER, REVOCATION_CHECK_LIST } from '../../core/revocation/checks/index.js';
import { checksToRun, evaluateRevocation } from '../../core/revocation/evaluate.js';
import { REVOCATION_CHECKS } from '../../platform/config/schema.js';
import { loadConfig } from '../../platform/config/load.js';

const unused = () => {
  throw new Error('not used by these checks');
};
const ctx = (overrides: Partial<CheckContext['input']> = {}, statusUrl?: string): CheckContext => ({
  input: { certificatePem: '', ssa: {}, signingKid: '', organisation: { orgKey: 'o', softwareId: 's' }, ...overrides },
  policy: { statusUrl, ocspUnknown: 'retry' },
  directory: { json: unused },
  certificate: { certificate: unused, chain: unused, crl: unused, ocsp: unused },
});

function check(name: string, verdict: CheckVerdict | (() => never), extra: Partial<RevocationCheck> = {}): RevocationCheck {
  return { name, describes: name, needs: [], ...extra, check: async () => (typeof verdict === 'function' ? verdict() : verdict) };
}

describe('revocation check registry', () => {
  it('CHECK_ORDER, the configuration enum and the default DCR_REVOCATION_CHECKS are the registered list', () => {
    const names = REVOCATION_CHECK_LIST.map((c) => c.name);
    expect(names).toEqual(['status-api', 'revoked-jwks', 'chain', 'crl', 'ocsp']);
    expect(CHECK_ORDER).toEqual(names);
    expect([...REVOCATION_CHECKS]).toEqual(names);
    expect(loadConfig({ DCR_SANDBOX: '1', DCR_DATA_DIR: '/tmp/unused' }).revocation.checks).toEqual(names);
    for (const c of REVOCATION_CHECK_LIST) expect(c.describes.length).toBeGreaterThan(0);
  });

  it('a check runs only when enabled and its needs are met', () => {
    const all = { checks: [...CHECK_ORDER], softFail: [] };
    expect(checksToRun(all, ctx()).map((c) => c.name)).toEqual(['revoked-jwks', 'chain', 'crl', 'ocsp']);
    expect(checksToRun(all, ctx({}, 'https://dir.example/status')).map((c) => c.name)).toEqual([...CHECK_ORDER]);
    expect(checksToRun(all, ctx({ ssa: null, organisation: null }, 'https://dir.example/status')).map((c) => c.name)).toEqual(['chain', 'crl', 'ocsp']);
    expect(checksToRun({ checks: ['crl'], softFail: [] }, ctx()).map((c) => c.name)).toEqual(['crl']);
  });
});

describe('combining verdicts', () => {
  const policy = (checks: string[], softFail: string[] = []) => ({ checks, softFail });

  it('positive evidence wins over a source problem and over a bug, in registry order', async () => {
    const registry = [
      check('a', retryable('directory_unreachable', 'a down')),
      check('b', () => {
        throw new TypeError('a bug');
      }),
      check('c', refused('c says revoked')),
      check('d', refused('d says revoked too')),
    ];
    const error = await evaluateRevocation(ctx(), policy(['a', 'b', 'c', 'd']), registry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistrationRejection);
    expect((error as RegistrationRejection).error).toBe('unapproved_software_statement');
    expect((error as RegistrationRejection).errorDescription).toBe('c says revoked');
  });

  it('a bug is rethrown as it is, not read as a source problem', async () => {
    const registry = [check('a', retryable('directory_unreachable', 'a down')), check('b', () => { throw new TypeError('a bug'); })];
    await expect(evaluateRevocation(ctx(), policy(['a', 'b']), registry)).rejects.toThrow(TypeError);
  });

  it('sources that cannot answer: one RetryableFailure naming each; fetch_refused only when every one was refused', async () => {
    const thrown = check('t', () => {
      throw new SourceUnavailable('fetch_refused', 'not allowed');
    });
    const refusedOnly = await evaluateRevocation(ctx(), policy(['t']), [thrown]).catch((e: unknown) => e);
    expect(refusedOnly).toBeInstanceOf(RetryableFailure);
    expect((refusedOnly as RetryableFailure).reason).toBe('fetch_refused');
    const mixed = await evaluateRevocation(ctx(), policy(['t', 'u']), [thrown, check('u', retryable('directory_unreachable', 'u down'))]).catch((e: unknown) => e);
    expect((mixed as RetryableFailure).reason).toBe('directory_unreachable');
    expect((mixed as RetryableFailure).message).toBe('t: not allowed; u: u down');
  });

  it('soft-fail passes a listed check over, and a softFailOnlyWith check only when the other gave verified evidence', async () => {
    const down = (name: string, extra: Partial<RevocationCheck> = {}) => check(name, retryable('directory_unreachable', `${name} down`), extra);
    const soft = await evaluateRevocation(ctx(), policy(['x', 'y'], ['x']), [down('x'), check('y', accepted('fine'))]);
    expect(soft).toEqual({ softFailed: [{ check: 'x', reason: 'directory_unreachable', message: 'x down' }], notes: [{ check: 'y', note: 'fine' }] });

    const withEvidence = await evaluateRevocation(ctx(), policy(['o', 'c'], ['o']), [down('o', { softFailOnlyWith: 'c' }), check('c', accepted('not listed', true))]);
    expect(withEvidence.softFailed.map((s) => s.check)).toEqual(['o']);
    const noEvidence = evaluateRevocation(ctx(), policy(['o', 'c'], ['o']), [down('o', { softFailOnlyWith: 'c' }), check('c', accepted('no distribution point'))]);
    await expect(noEvidence).rejects.toBeInstanceOf(RetryableFailure);
    const otherOff = evaluateRevocation(ctx(), policy(['o'], ['o']), [down('o', { softFailOnlyWith: 'c' }), check('c', accepted('not listed', true))]);
    await expect(otherOff).rejects.toBeInstanceOf(RetryableFailure);
  });
});
