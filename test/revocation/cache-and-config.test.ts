import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { MemoryRevocationCache, RedisRevocationCache, type RevocationCache } from '../../services/revocation/cache.js';
import { startInfra, type Infra } from '../support/infra.js';

describe('revocation configuration', () => {
  const sandboxEnv = { DCR_SANDBOX: '1', DCR_DATA_DIR: '/tmp/unused', DCR_SANDBOX_PORT: '9555' };

  it('defaults: every check, no soft-fail, OCSP unknown retried, the sandbox status API in sandbox mode', () => {
    const config = loadConfig(sandboxEnv);
    expect(config.revocation).toEqual({
      checks: ['ssa-status', 'status-api', 'revoked-jwks', 'crl', 'ocsp', 'chain'],
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
    const config = loadConfig({ ...sandboxEnv, DCR_REVOCATION_CHECKS: 'ssa-status, crl', DCR_REVOCATION_SOFT_FAIL: 'ocsp', DCR_OCSP_UNKNOWN: 'reject' });
    expect(config.revocation.checks).toEqual(['ssa-status', 'crl']);
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

function cacheContract(name: string, make: (clock: () => number) => RevocationCache) {
  describe(`revocation cache: ${name}`, () => {
    let now = Date.now();
    let cache: RevocationCache;
    beforeAll(() => {
      cache = make(() => now);
    });
    afterAll(async () => {
      await cache?.close();
    });

    it('returns an entry until it expires, then nothing', async () => {
      const key = `crl:https://dir.example/${Math.random()}`;
      expect(await cache.get(key)).toBeNull();
      const entry = { body: Buffer.from('der').toString('base64'), storedAt: now, expiresAt: now + 60_000 };
      await cache.set(key, entry);
      expect(await cache.get(key)).toEqual(entry);
      now += 59_000;
      expect(await cache.get(key)).toEqual(entry);
      now += 1_000;
      expect(await cache.get(key)).toBeNull();
    });

    it('does not store an entry that is already expired', async () => {
      const key = `json:https://dir.example/${Math.random()}`;
      await cache.set(key, { body: '', storedAt: now, expiresAt: now });
      expect(await cache.get(key)).toBeNull();
    });
  });
}

cacheContract('in-memory', (clock) => new MemoryRevocationCache({ clock }));

describe('revocation cache: Redis, shared by two worker instances', () => {
  let infra: Infra | undefined;
  beforeAll(async () => {
    infra = await startInfra({ redis: true });
  });
  afterAll(async () => {
    await infra?.stop();
  });

  it('an entry written by one instance is read by another until it expires; namespaces do not mix', async () => {
    const url = infra?.redisUrl ?? '';
    let now = Date.now();
    const clock = () => now;
    const a = new RedisRevocationCache(url, 'nsone', { clock });
    const b = new RedisRevocationCache(url, 'nsone', { clock });
    const other = new RedisRevocationCache(url, 'nstwo', { clock });
    try {
      const entry = { body: Buffer.from('{"keys":[]}').toString('base64'), storedAt: now, expiresAt: now + 30_000 };
      await a.set('json:https://dir.example/revoked', entry);
      expect(await b.get('json:https://dir.example/revoked')).toEqual(entry);
      expect(await other.get('json:https://dir.example/revoked')).toBeNull();
      now += 30_000;
      expect(await b.get('json:https://dir.example/revoked')).toBeNull();
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  it('a Redis that cannot be reached is a cache miss, not a failure', async () => {
    const cache = new RedisRevocationCache('redis://127.0.0.1:1', 'nsdown');
    try {
      await cache.set('json:x', { body: '', storedAt: Date.now(), expiresAt: Date.now() + 1000 });
      expect(await cache.get('json:x')).toBeNull();
    } finally {
      await cache.close();
    }
  });
});
