/**
 * Profile fields wired outside the metadata rules: defaultIssuers (configuration), the profile's SSA
 * maximum age against DCR_SSA_MAX_AGE_SECONDS, token rotation per profile, management token kinds,
 * and the Open Finance Brasil `enc` key at `jwks_uri`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError, RegistrationRejection } from '../../core/domain/errors.js';
import { hashToken } from '../../platform/crypto/token-sealer.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import { KeyResolver } from '../../platform/jose/key-resolver.js';
import type { Client } from '../../core/domain/client.js';
import { getProfile, type ProfileName } from '../../core/profiles/index.js';
import type { RegisteredMetadata } from '../../core/registration/registered-metadata.js';
import { authenticateManagement } from '../../services/intake/management-auth.js';
import { tokenKindAccepted, type ManagementCredential } from '../../services/intake/management-token-kinds.js';
import { rotatesToken } from '../../services/provisioner/update-client.js';
import { effectiveSsaMaxAge } from '../../services/verifier/metadata/ssa-claims.js';
import { checkEncryptionKey } from '../../services/verifier/verify-request.js';

const BASE_ENV = { DCR_SANDBOX: '0', DCR_AS_PROVISIONING: 'store', DCR_DIRECTORY_JWKS_URL: 'https://directory.example.com/jwks', DCR_CLIENT_CA_FILE: '/dev/null' };

describe('defaultIssuers: the trusted SSA issuer follows DCR_PROFILE', () => {
  it.each([
    ['cdr', ['cdr-register']],
    ['openfinance-br', ['Open Banking Open Banking Brasil prod SSA issuer']],
    ['obie-3.3', ['OpenBanking Ltd']],
  ] as const)('DCR_PROFILE=%s trusts %j unless DCR_SSA_ISSUER is set', (profile, issuers) => {
    expect(loadConfig({ ...BASE_ENV, DCR_PROFILE: profile }).ssaIssuers).toEqual(issuers);
    expect(loadConfig({ ...BASE_ENV, DCR_PROFILE: profile, DCR_SSA_ISSUER: 'My Directory' }).ssaIssuers).toEqual(['My Directory']);
  });

  it('a profile without a directory of its own (fapi2) needs DCR_SSA_ISSUER outside the sandbox', () => {
    expect(() => loadConfig({ ...BASE_ENV, DCR_PROFILE: 'fapi2' })).toThrow(ConfigurationError);
    expect(() => loadConfig({ ...BASE_ENV, DCR_PROFILE: 'fapi2' })).toThrow(/DCR_SSA_ISSUER/);
    expect(loadConfig({ ...BASE_ENV, DCR_PROFILE: 'rfc7591' }).ssaIssuers).toEqual([]);
  });
});

describe('the SSA maximum age is the profile rule; DCR_SSA_MAX_AGE_SECONDS cannot switch it off', () => {
  it('loads absent as "the profile\'s", off as null', () => {
    expect(loadConfig({ ...BASE_ENV, DCR_PROFILE: 'openfinance-br' }).ssaMaxAgeSeconds).toBeUndefined();
    expect(loadConfig({ ...BASE_ENV, DCR_PROFILE: 'openfinance-br', DCR_SSA_MAX_AGE_SECONDS: 'off' }).ssaMaxAgeSeconds).toBeNull();
  });

  it('Brasil keeps 300 s whatever the deployment says, except a tighter limit', () => {
    const brasil = getProfile('openfinance-br').ssa.time.maxAgeSeconds;
    expect(brasil).toBe(300);
    expect(effectiveSsaMaxAge(brasil, undefined)).toBe(300);
    expect(effectiveSsaMaxAge(brasil, null)).toBe(300);
    expect(effectiveSsaMaxAge(brasil, 3600)).toBe(300);
    expect(effectiveSsaMaxAge(brasil, 120)).toBe(120);
  });

  it('a profile with no age rule (OBIE) takes the deployment value, none by default', () => {
    const obie = getProfile('obie-3.3').ssa.time.maxAgeSeconds;
    expect(effectiveSsaMaxAge(obie, undefined)).toBeNull();
    expect(effectiveSsaMaxAge(obie, 600)).toBe(600);
  });
});

describe('registration access token rotation per profile (management.tokenRotation)', () => {
  it('Open Finance Brasil never rotates, and refuses DCR_ROTATE_REGISTRATION_TOKEN=1 at start-up', () => {
    const ofb = getProfile('openfinance-br');
    expect(ofb.management.tokenRotation).toBe('forbidden');
    expect(rotatesToken({ profile: ofb, rotateTokenOnUpdate: true })).toBe(false);
    expect(() => loadConfig({ ...BASE_ENV, DCR_PROFILE: 'openfinance-br', DCR_ROTATE_REGISTRATION_TOKEN: '1' })).toThrow(/DCR_ROTATE_REGISTRATION_TOKEN/);
  });

  it("other profiles: off by default, on with DCR_ROTATE_REGISTRATION_TOKEN=1", () => {
    const obie = getProfile('obie-3.3');
    expect(rotatesToken({ profile: obie, rotateTokenOnUpdate: undefined })).toBe(false);
    const config = loadConfig({ ...BASE_ENV, DCR_PROFILE: 'obie-3.3', DCR_ROTATE_REGISTRATION_TOKEN: '1' });
    expect(config.rotateRegistrationToken).toBe(true);
    expect(rotatesToken({ profile: obie, rotateTokenOnUpdate: config.rotateRegistrationToken })).toBe(true);
    expect(rotatesToken({ profile: { ...obie, management: { ...obie.management, tokenRotation: 'on' } }, rotateTokenOnUpdate: undefined })).toBe(true);
  });
});

describe('management token kinds per profile (management.tokenKinds), against a real store', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  let store: SqliteStore;
  const token = randomBytes(24).toString('base64url');
  const clientId = `c${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-kinds-'));
    db = openEmbeddedDatabase(dir);
    store = new SqliteStore(db);
    const now = new Date().toISOString();
    const client: Client = {
      clientId,
      requestId: 'r1',
      lastRequestId: 'r1',
      orgId: 'org',
      softwareId: 'sw',
      status: 'active',
      metadata: { client_id: clientId },
      tokenHash: hashToken(token),
      certificateThumbprint: 't',
      tppIdentity: 'org:tpp',
      clientIdIssuedAt: 1,
      createdAt: now,
      updatedAt: now,
      version: 0,
    };
    await store.insertClient(client, []);
  });
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What Fastify hands the hook: the Authorization header and the verified client certificate. */
  function managementRequest(): FastifyRequest {
    return {
      headers: { authorization: `Bearer ${token}` },
      clientCertificate: { thumbprint: 't', tppIdentity: 'org:tpp' },
      log: { info: () => undefined },
    } as unknown as FastifyRequest;
  }

  async function outcome(profile: ProfileName): Promise<{ status: number | 'ok'; description?: string; used?: ManagementCredential }> {
    let used: ManagementCredential | undefined;
    try {
      await authenticateManagement(managementRequest(), store, clientId, null, getProfile(profile), (u) => (used = u));
      return { status: 'ok', ...(used ? { used } : {}) };
    } catch (error) {
      const e = error as { statusCode: number; message: string; description?: string };
      return { status: e.statusCode, description: e.description ?? e.message };
    }
  }

  it('CDR refuses the registration access token: only an AS token with scope cdr:registration', async () => {
    const result = await outcome('cdr');
    expect(result.status).toBe(401);
    expect(result.description).toContain('cdr:registration');
  });

  it.each(['openfinance-br', 'obie-3.3', 'fapi2', 'rfc7591'] as const)('%s accepts it (the whole call: test/profiles/sandbox-profiles.e2e.test.ts, test/management)', (profile) => {
    expect(tokenKindAccepted(getProfile(profile), 'registration_access_token')).toBe(true);
  });
});

describe('Open Finance Brasil: the JWKS at jwks_uri holds a "use": "enc" key (jwks.requireEncryptionKey)', () => {
  let dir: string;
  const keys = new KeyResolver(new OutboundFetcher({ allowedHosts: [], connectTimeoutMs: 1000, totalTimeoutMs: 2000, maxBytes: 65536, allowFileUrls: true }), { maxAgeSeconds: 60 });
  const jwk = (use: string) => ({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), use, kid: `k-${use}` });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-jwks-'));
    await writeFile(join(dir, 'with-enc.jwks'), JSON.stringify({ keys: [jwk('sig'), jwk('enc')] }));
    await writeFile(join(dir, 'sig-only.jwks'), JSON.stringify({ keys: [jwk('sig')] }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const metadata = (file: string) => ({ jwks_uri: pathToFileURL(join(dir, file)).href }) as unknown as RegisteredMetadata;

  it('passes with an enc key, rejects 400 invalid_client_metadata without one', async () => {
    const profile = getProfile('openfinance-br');
    await expect(checkEncryptionKey({ profile, keys }, metadata('with-enc.jwks'))).resolves.toBeUndefined();
    const error: unknown = await checkEncryptionKey({ profile, keys }, metadata('sig-only.jwks')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistrationRejection);
    expect((error as RegistrationRejection).error).toBe('invalid_client_metadata');
    expect((error as RegistrationRejection).errorDescription).toContain('"use": "enc"');
  });

  it('other profiles do not fetch the JWKS for it', async () => {
    await expect(checkEncryptionKey({ profile: getProfile('cdr'), keys }, metadata('sig-only.jwks'))).resolves.toBeUndefined();
  });
});
