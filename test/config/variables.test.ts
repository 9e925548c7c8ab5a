/**
 * The configuration table (platform/config/variables.ts) is the one place a variable is declared:
 * every DCR_* name the product's sources read or mention is in it, the schema and the loader are
 * derived from it, and its error lines name the variable, the problem and the allowed form, never
 * a secret's value.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../core/domain/errors.js';
import { documentedRows } from '../../platform/config/docs.js';
import { givenSettings, loadConfig, loadSettings, REQUIRED_OUTSIDE_SANDBOX } from '../../platform/config/load.js';
import { ConfigSchema } from '../../platform/config/schema.js';
import { flatten } from '../../platform/config/settings.js';
import { VARIABLES } from '../../platform/config/variables.js';
import { loadSandboxConfig } from '../../sandbox/directory-sandbox/config.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCES = ['core', 'platform', 'services', 'sandbox'];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

const known = new Set(documentedRows().flatMap((r) => [r.env, ...(r.also ?? [])]));
const sandbox = { DCR_SANDBOX: '1', DCR_DATA_DIR: '/tmp/dcr-config-table' };

function refusal(env: Record<string, string>, options = {}): ConfigurationError {
  try {
    loadConfig(env, options);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe('the configuration table', () => {
  it('holds every DCR_* variable that core/, platform/, services/ and sandbox/ read or name', () => {
    const reads: string[] = [];
    const unknown: string[] = [];
    for (const dir of SOURCES) {
      for (const file of sources(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        const where = relative(ROOT, file);
        // process.env.X, env.X, env['X'], env?.X
        for (const m of text.matchAll(/\benv\??(?:\.|\[\s*['"`])((?:DCR|OTEL)_[A-Z0-9_]+)/g)) {
          reads.push(m[1] as string);
          if (!known.has(m[1] as string)) unknown.push(`${where}: reads ${m[1]}`);
        }
        // any other mention (an error naming it, a comment): a name that is not a prefix (DCR_RETENTION_*)
        for (const m of text.matchAll(/\bDCR_[A-Z0-9_]*[A-Z0-9]\b(?!_?\*)/g)) {
          if (!known.has(m[0])) unknown.push(`${where}: names ${m[0]}`);
        }
      }
    }
    expect(unknown).toEqual([]);
    // the scan sees real reads (the CLI's DCR_DATA_DIR lookup), so an empty scan cannot pass
    expect(reads).toContain('DCR_DATA_DIR');
  });

  it('reads environment variables only in platform/config (besides the CLI data-directory lookup)', () => {
    const readers = new Set<string>();
    for (const dir of SOURCES) {
      for (const file of sources(join(ROOT, dir))) {
        if (/\benv\??(?:\.|\[\s*['"`])DCR_/.test(readFileSync(file, 'utf8'))) readers.add(relative(ROOT, file));
      }
    }
    expect([...readers].sort()).toEqual(['sandbox/cli/data-dir.ts']);
  });

  it('documents every entry: meaning, default, and a schema the loaded configuration satisfies', () => {
    for (const { path, setting } of flatten(VARIABLES)) {
      expect(setting.doc.length, path.join('.')).toBeGreaterThan(3);
      expect(setting.form.length, path.join('.')).toBeGreaterThan(3);
      expect(setting.optional || setting.default !== undefined || setting.read !== undefined, `${setting.env} has a value when unset`).toBe(true);
    }
    const schema = Compile(ConfigSchema);
    const samples = [
      loadConfig(sandbox),
      loadConfig({ ...sandbox, DCR_MONGO_URL: 'mongodb://m/db', DCR_REDIS_URL: 'redis://r', DCR_KAFKA_BROKERS: 'k:9092', DCR_ADMIN_TOKEN: 'a'.repeat(20), OTEL_TRACES_EXPORTER: 'console' }),
      loadConfig({ DCR_SANDBOX: '0', DCR_DIRECTORY_JWKS_URL: 'https://dir.example/jwks', DCR_CLIENT_CA_FILE: '/dev/null', DCR_AS_PROVISIONING: 'store', DCR_SSA_MAX_AGE_SECONDS: 'off' }),
    ];
    for (const config of samples) expect(schema.Check(config), JSON.stringify([...schema.Errors(config)].slice(0, 2))).toBe(true);
    expect(samples[2]?.ssaMaxAgeSeconds).toBeNull();
  });

  it('refuses a bad value in one line: the variable, the problem and the allowed form', () => {
    for (const [env, line] of [
      [{ DCR_HTTPS_PORT: '70000' }, "DCR_HTTPS_PORT: must be a port number 0-65535, got '70000'"],
      [{ DCR_HTTPS_PORT: '84x3' }, "DCR_HTTPS_PORT: must be an integer, got '84x3'"],
      [{ DCR_LEEWAY_SECONDS: '90' }, "DCR_LEEWAY_SECONDS: must be an integer from 0 to 60, got '90'"],
      [{ DCR_LOG_LEVEL: 'loud' }, "DCR_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'"],
      [{ DCR_KAFKA_BROKERS: 'k:9092,kafka', DCR_MONGO_URL: 'mongodb://m', DCR_REDIS_URL: 'redis://r' }, "DCR_KAFKA_BROKERS: 'kafka' is not allowed: must be a comma list of host:port"],
      [{ DCR_REVOCATION_CHECKS: 'crl,ocsp,crl' }, "DCR_REVOCATION_CHECKS: lists an item twice: must be a comma list of status-api, revoked-jwks, chain, crl, ocsp (or none), got 'crl,ocsp,crl'"],
      [{ DCR_AUDIENCE: ' , ' }, 'DCR_AUDIENCE: must not be empty: must be a comma list of URLs'],
      [{ DCR_SANDBOX: 'perhaps' }, "DCR_SANDBOX: must be 1 or 0, got 'perhaps'"],
      [{ DCR_SANDBOX_BASE_URL: 'http://directory:8444' }, "DCR_SANDBOX_BASE_URL: must be an https:// URL, got 'http://directory:8444'"],
    ] as const) {
      const error = refusal({ ...sandbox, ...env });
      expect(error.message).toBe(line);
      expect(error.variable).toBe(line.slice(0, line.indexOf(':')));
    }
  });

  it('never repeats a secret in an error line', () => {
    for (const [variable, value] of [
      ['DCR_ADMIN_TOKEN', 'short-but-secret'.slice(0, 15)],
      ['DCR_NOTIFIER_WEBHOOK_SECRET', 'too-short-secret'],
      ['DCR_TOKEN_SEALING_KEY', 'c2VjcmV0LXNlYWxpbmcta2V5'],
      ['DCR_MONGO_URL', 'mongo://user:hunter2@db'],
    ] as const) {
      const error = refusal({ ...sandbox, [variable]: value });
      expect(error.variable).toBe(variable);
      expect(error.message).not.toContain(value);
      expect(error.message.split('\n')).toHaveLength(1);
    }
    // a variable whose name says it holds a secret is marked (DCR_ROTATE_REGISTRATION_TOKEN is a switch)
    for (const row of documentedRows()) {
      for (const name of [row.env, ...(row.also ?? [])]) {
        if (/_(SECRET|TOKEN|SEALING_KEY|PASSWORD|HEADERS)$/.test(name) && name !== 'DCR_ROTATE_REGISTRATION_TOKEN') expect(row.secret, `${name} is marked secret`).toBe(true);
      }
    }
    const secrets = flatten(VARIABLES).filter(({ setting }) => setting.secret).map(({ setting }) => setting.env);
    expect(secrets).toEqual(expect.arrayContaining(['DCR_ADMIN_TOKEN', 'DCR_TOKEN_SEALING_KEY', 'DCR_NOTIFIER_WEBHOOK_SECRET', 'DCR_AS_INTROSPECTION_CLIENT_SECRET', 'DCR_KEYCLOAK_CLIENT_SECRET', 'OTEL_EXPORTER_OTLP_HEADERS']));
  });

  it('is never in sandbox mode unless the caller asks, and names every missing trust variable outside it in one line', () => {
    expect(REQUIRED_OUTSIDE_SANDBOX.map(([v]) => v)).toEqual(['DCR_DIRECTORY_JWKS_URL', 'DCR_CLIENT_CA_FILE', 'DCR_AS_PROVISIONING']);
    const error = refusal({ DCR_DATA_DIR: '/tmp/x' });
    expect(error.variable).toBe('DCR_DIRECTORY_JWKS_URL');
    expect(error.message).toMatch(/^DCR_DIRECTORY_JWKS_URL: required when DCR_SANDBOX=0 .*also missing: DCR_CLIENT_CA_FILE .*DCR_AS_PROVISIONING/);
    expect(error.message.split('\n')).toHaveLength(1);
    expect(loadConfig({ DCR_DATA_DIR: '/tmp/x' }, { sandboxByDefault: true }).sandbox).toBe(true);
    // configured trust switches the default off
    expect(refusal({ DCR_DATA_DIR: '/tmp/x', DCR_CLIENT_CA_FILE: '/dev/null' }, { sandboxByDefault: true }).variable).toBe('DCR_DIRECTORY_JWKS_URL');
  });

  it('derives the sandbox AS issuer for a process that runs it (npm start), unless an AS is configured', () => {
    const own = loadConfig({ DCR_DATA_DIR: '/tmp/x', DCR_AS_PORT: '9445' }, { sandboxByDefault: true, sandboxAs: true });
    expect(own.as).toMatchObject({ issuer: 'https://localhost:9445', jwksUrl: 'https://localhost:9445/jwks', provisioning: 'sandbox' });
    expect(own.allowedFetchHosts).toContain('localhost:9445');
    // without the option (the distributed services), or with another AS, nothing is derived
    expect(loadConfig({ DCR_DATA_DIR: '/tmp/x' }, { sandboxByDefault: true }).as.issuer).toBeUndefined();
    const other = loadConfig({ DCR_DATA_DIR: '/tmp/x', DCR_AS_ISSUER: 'https://as.bank.example', DCR_AS_JWKS_URL: 'https://as.bank.example/jwks' }, { sandboxByDefault: true, sandboxAs: true });
    expect(other.as).toMatchObject({ issuer: 'https://as.bank.example', jwksUrl: 'https://as.bank.example/jwks' });
    const introspection = { DCR_AS_INTROSPECTION_URL: 'https://as.bank.example/introspect', DCR_AS_INTROSPECTION_CLIENT_ID: 'dcr', DCR_AS_INTROSPECTION_CLIENT_SECRET: 's' };
    expect(loadConfig({ DCR_DATA_DIR: '/tmp/x', ...introspection }, { sandboxByDefault: true, sandboxAs: true }).as.issuer).toBeUndefined();
  });

  it('loads a subset for a process that needs a few settings (the sandbox directory), and treats blank as unset', () => {
    expect(loadSettings({ DCR_SANDBOX_PORT: '9000', DCR_HTTPS_PORT: 'not read' }, ['sandboxPort', 'sandboxUrl'])).toEqual({ sandboxPort: 9000, sandboxUrl: 'https://localhost:9000' });
    expect(givenSettings({}, ['ssaIssuers'])).toEqual({});
    expect(givenSettings({ DCR_SSA_ISSUER: 'A, B' }, ['ssaIssuers'])).toEqual({ ssaIssuers: ['A', 'B'] });
    expect(loadSandboxConfig({ DCR_SANDBOX_HOST: ' ', DCR_SANDBOX_PORT: '' })).toMatchObject({ host: '127.0.0.1', port: 8444 });
    expect(loadConfig({ ...sandbox, DCR_HOST: '', DCR_PUBLIC_URL: ' ' })).toMatchObject({ host: '127.0.0.1', publicUrl: 'https://localhost:8443' });
  });
});
