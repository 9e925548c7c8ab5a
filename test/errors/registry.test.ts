import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, RegistrationRejection, RetryableFailure, reject } from '../../core/domain/errors.js';
import { DcrError, DependencyUnavailable, ERRORS, ERROR_CODES, OAUTH_ERROR_CODES, type ErrorCode } from '../../core/errors/index.js';
import { AsClientRefused, AsUnavailable } from '../../core/ports/authorization-server.js';
import { SoftwareAlreadyRegistered } from '../../core/ports/store.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteQueue } from '../../platform/adapters/embedded/sqlite-queue.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { asDependencyUnavailable } from '../../platform/adapters/dependency.js';
import { errorResponse } from '../../platform/http/error-response.js';
import { errorsPlugin, HttpError } from '../../platform/http/fastify-errors.js';
import { FetchFailed, FetchRefused } from '../../platform/http/outbound-fetcher.js';
import { JwsFormatError } from '../../platform/jose/compact-jws.js';
import { CertificateRefused } from '../../platform/pki/client-certificate.js';
import { SourceUnavailable } from '../../core/revocation/check.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the error registry (core/errors/registry.ts)', () => {
  it('every code is unique, well formed, and has an HTTP status, an OAuth error and a stage outcome', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES.length).toBeGreaterThan(20);
    for (const code of ERROR_CODES) {
      const spec = ERRORS[code];
      expect(code, code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, `${code} status ${spec.status}`).toBe(true);
      expect(OAUTH_ERROR_CODES, code).toContain(spec.error);
      expect(['final', 'retryable', null], code).toContain(spec.stage);
      expect(spec.summary.length, code).toBeGreaterThan(0);
      // Final means the TPP's fault: never a 5xx; a 503 is always something to retry.
      if (spec.stage === 'final') expect(spec.status, code).toBeLessThan(500);
      if (spec.status === 503) expect(spec.error, code).toBe('temporarily_unavailable');
    }
  });

  it('every error class under core/, platform/ and services/ extends DcrError (source scan)', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts')) files.push(path);
      }
    };
    for (const top of ['core', 'platform', 'services']) walk(join(ROOT, top));
    const parent = new Map<string, { base: string; where: string }>();
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bclass\s+(\w+)(?:<[^>{]*>)?\s+extends\s+([\w.]+)/g)) {
        parent.set(m[1] as string, { base: m[2] as string, where: relative(ROOT, file) });
      }
    }
    const builtIn = /^(Error|TypeError|RangeError|SyntaxError|AggregateError|EvalError|ReferenceError|URIError)$/;
    const offenders: string[] = [];
    let errorClasses = 0;
    for (const [name, { where }] of parent) {
      if (name === 'DcrError') continue;
      // Walk up the chain of classes declared in the scanned sources.
      let current = name;
      const seen = new Set<string>();
      let reachesDcrError = false;
      let reachesError = false;
      while (!seen.has(current)) {
        seen.add(current);
        if (current === 'DcrError') {
          reachesDcrError = true;
          break;
        }
        if (builtIn.test(current)) {
          reachesError = true;
          break;
        }
        const up = parent.get(current);
        if (!up) break;
        current = up.base;
      }
      if (reachesDcrError) errorClasses++;
      if (reachesError) offenders.push(`${name} (${where})`);
    }
    expect(offenders).toEqual([]);
    expect(errorClasses).toBeGreaterThanOrEqual(20);
  });

  it('every product error has its name set and a code from the registry', () => {
    const samples: DcrError[] = [
      reject.metadata('x'),
      new RetryableFailure('r', 'x'),
      new ConfigurationError('DCR_X', 'x'),
      new DependencyUnavailable('store', 'x'),
      new SoftwareAlreadyRegistered('k', 'c'),
      new AsClientRefused('keycloak', 'x'),
      new AsUnavailable('keycloak', 'x'),
      new FetchRefused('x'),
      new FetchFailed('x'),
      new JwsFormatError('x'),
      new CertificateRefused('x'),
      new SourceUnavailable('directory_unreachable', 'x'),
      new HttpError('ERR_NOT_FOUND', 'x'),
    ];
    for (const error of samples) {
      expect(error).toBeInstanceOf(DcrError);
      expect(error.name).toBe(error.constructor.name);
      expect(ERROR_CODES).toContain(error.code);
    }
  });
});

describe('one mapping to HTTP (platform/http/error-response.ts)', () => {
  const registryAnswer = (error: DcrError, code: ErrorCode = error.code) => {
    const answer = errorResponse(error);
    expect(answer.status).toBe(ERRORS[code].status);
    expect(answer.body.error).toBe(ERRORS[code].error);
    return answer;
  };

  it('a rejection: 400 with its own RFC 7591 code and description', () => {
    const answer = errorResponse(reject.redirectUri('redirect_uris: not https'));
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri', error_description: 'redirect_uris: not https' }, log: 'none' });
  });

  it('an HTTP error: the registry status and code, with its headers', () => {
    const answer = registryAnswer(new HttpError('ERR_INVALID_TOKEN', 'the token is not valid', { 'www-authenticate': 'Bearer error="invalid_token"' }));
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'the token is not valid' }, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
  });

  it('a final product error that reaches HTTP: its 4xx and its message', () => {
    expect(registryAnswer(new AsClientRefused('keycloak', 'scope x unknown'))).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata', error_description: 'keycloak refused the client: scope x unknown' } });
    expect(registryAnswer(new JwsFormatError('not a compact JWS')).status).toBe(400);
    expect(registryAnswer(new CertificateRefused('two organisations')).body.error).toBe('invalid_client');
  });

  it('an outage (DependencyUnavailable, or any 503 of the registry): 503 temporarily_unavailable with Retry-After, logged as a warning', () => {
    for (const error of [new DependencyUnavailable('queue', 'enqueue: ECONNREFUSED'), new FetchFailed('directory down'), new AsUnavailable('keycloak', 'down')]) {
      const answer = registryAnswer(error);
      expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '5' }, log: 'warn' });
      expect(answer.body.error_description).not.toContain('ECONNREFUSED');
    }
    // Wrapped as the cause of a retryable failure: still an outage.
    const wrapped = new RetryableFailure('store_write', 'could not store', { cause: new DependencyUnavailable('store', 'x') });
    expect(errorResponse(wrapped)).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
  });

  it('a fault: 500 server_error without its message, logged as an error', () => {
    for (const error of [new RetryableFailure('bug', 'secret internal detail'), new ConfigurationError('DCR_X', 'secret internal detail'), new TypeError('secret internal detail')]) {
      const answer = errorResponse(error);
      expect(answer).toMatchObject({ status: 500, body: { error: 'server_error' }, log: 'error' });
      expect(answer.body.error_description).not.toContain('secret');
    }
  });

  it('framework errors: body limits, schema validation, a driver failure outside any adapter', async () => {
    const app = Fastify({ logger: false, bodyLimit: 64 });
    await app.register(errorsPlugin);
    app.post('/v', { schema: { body: Type.Object({ n: Type.Integer() }) } }, async () => ({ ok: true }));
    app.get('/driver', async () => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    });
    try {
      const big = await app.inject({ method: 'POST', url: '/v', payload: { n: 1, pad: 'x'.repeat(200) } });
      expect(big.statusCode).toBe(413);
      expect(big.json()).toEqual({ error: 'invalid_request', error_description: 'request body is too large' });
      const invalid = await app.inject({ method: 'POST', url: '/v', payload: { n: 'one' } });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().error).toBe('invalid_request');
      const driver = await app.inject({ url: '/driver' });
      expect(driver.statusCode).toBe(503);
      expect(driver.headers['retry-after']).toBe('5');
      const none = await app.inject({ url: '/nowhere' });
      expect(none.statusCode).toBe(404);
      expect(none.json().error).toBe('not_found');
    } finally {
      await app.close();
    }
  });
});

describe('a real adapter turns a driver failure into DependencyUnavailable', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  let other: Database.Database;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-errors-adapter-'));
    db = openEmbeddedDatabase(dir);
    db.sqlite.pragma('busy_timeout = 0');
    other = new Database(join(dir, 'dcr.sqlite'));
  });
  afterAll(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the embedded store and queue on a database locked by another connection: DependencyUnavailable, the SQLite error kept as the cause; 503 at HTTP', async () => {
    const store = new SqliteStore(db);
    const queue = new SqliteQueue(db, { attempts: 3, baseDelayMs: 10 });
    expect(await store.tryAcquireLease('errors-test', 'me', 60_000)).toBe(true);
    other.exec('BEGIN EXCLUSIVE');
    try {
      const storeError = await store.tryAcquireLease('errors-test-2', 'me', 60_000).then(() => null, (e: unknown) => e);
      expect(storeError).toBeInstanceOf(DependencyUnavailable);
      expect((storeError as DependencyUnavailable).dependency).toBe('store');
      expect((storeError as DependencyUnavailable).message).toMatch(/^the store is unavailable: tryAcquireLease: .*SQLITE_BUSY/);
      expect(JSON.stringify((storeError as Error).cause, Object.getOwnPropertyNames((storeError as Error).cause))).toContain('SQLITE_BUSY');
      expect(errorResponse(storeError)).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' }, headers: { 'retry-after': '5' } });

      const queueError = await queue.enqueue('verify', 'job-1', { requestId: 'r1', generation: 0 } as never).then(() => null, (e: unknown) => e);
      expect(queueError).toBeInstanceOf(DependencyUnavailable);
      expect((queueError as DependencyUnavailable).dependency).toBe('queue');
    } finally {
      other.exec('ROLLBACK');
    }
    // The outage is over: the same adapter works again, and errors that are not outages pass unchanged.
    expect(await store.tryAcquireLease('errors-test-3', 'me', 60_000)).toBe(true);
    const bug = new RangeError('not an outage');
    expect(asDependencyUnavailable('store', bug)).toBe(bug);
    await queue.close();
  });
});

describe('README "Errors"', () => {
  it('lists exactly the registry (npx tsx scripts/errors-table.ts)', async () => {
    const { errorsTable } = await import('../../scripts/errors-table.js');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const listed = /<!-- errors:begin -->\n([\s\S]*?)\n<!-- errors:end -->/.exec(readme)?.[1];
    expect(listed).toBe(errorsTable());
  });
});
