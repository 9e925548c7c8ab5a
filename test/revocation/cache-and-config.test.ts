import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';

describe('revocation configuration', () => {
  const sandboxEnv = { DCR_SANDBOX: '1', DCR_DATA_DIR: '/tmp/unused', DCR_SANDBOX_PORT: '9555' };

  it('defaults: every check, no soft-fail, OCSP unknown retried, the sandbox status API in sandbox mode', () => {
    const config = loadConfig(sandboxEnv);
    expect(config.revocation).toEqual({
      checks: ['status-api', 'revoked-jwks', 'chain', 'crl', 'ocsp'],
      softFail: [],
      statusUrl: 'https://localhost:9555/cdr-register/v1/banking',
      ocspUnknown: 'retry',
    });
    expect(loadConfig({ ...sandboxEnv, DCR_SANDBOX_BASE_URL: 'https://directory-sandbox:8444/' }).revocation.statusUrl).toBe(
      'https://directory-sandbox:8444/cdr-register/v1/banking',
    );
  });

  it('no status API outside sandbox mode unless configured; off disables it', () => {
    const prod = { DCR_SANDBOX: '0', DCR_DIRECTORY_JWKS_URL: 'https://dir.example/jwks', DCR_CLIENT_CA_FILE: '/dev/null', DCR_AS_PROVISIONING: 'store' };
    expect(loadConfig(prod).revocation.statusUrl).toBeUndefined();
    expect(loadConfig({ ...prod, DCR_DIRECTORY_STATUS_URL: 'https://api.cdr.gov.au/cdr-register/v1/all/' }).revocation.statusUrl).toBe(
      'https://api.cdr.gov.au/cdr-register/v1/all',
    );
    expect(loadConfig({ ...sandboxEnv, DCR_DIRECTORY_STATUS_URL: 'off' }).revocation.statusUrl).toBeUndefined();
  });

  it('reads checks, soft-fail and the OCSP unknown policy; names the variable on a bad value', () => {
    const config = loadConfig({ ...sandboxEnv, DCR_REVOCATION_CHECKS: 'status-api, crl', DCR_REVOCATION_SOFT_FAIL: 'ocsp', DCR_OCSP_UNKNOWN: 'reject' });
    expect(config.revocation.checks).toEqual(['status-api', 'crl']);
    expect(config.revocation.softFail).toEqual(['ocsp']);
    expect(config.revocation.ocspUnknown).toBe('reject');
    expect(loadConfig({ ...sandboxEnv, DCR_REVOCATION_CHECKS: 'none' }).revocation.checks).toEqual([]);

    const bad = (env: Record<string, string>) => {
      try {
        loadConfig({ ...sandboxEnv, ...env });
      } catch (error) {
        return error;
      }
      return null;
    };
    for (const [variable, value] of [
      ['DCR_REVOCATION_CHECKS', 'crl,telepathy'],
      // The SSA's status claims are the verifier's (one owner): the old check name says so.
      ['DCR_REVOCATION_CHECKS', 'ssa-status,crl'],
      ['DCR_REVOCATION_SOFT_FAIL', 'ssa-status'],
      ['DCR_REVOCATION_SOFT_FAIL', 'everything'],
      ['DCR_DIRECTORY_STATUS_URL', 'http://plain.example/status'],
      ['DCR_OCSP_UNKNOWN', 'ignore'],
    ] as const) {
      const error = bad({ [variable]: value });
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).variable).toBe(variable);
    }
  });
});
