import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxDirectory, startSandboxDirectoryServer, x509 } from '../../sandbox/directory-sandbox/index.js';
import type { SandboxServer, SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { freePort, httpsGet, makeTempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const CHILD = fileURLToPath(new URL('./child-action.ts', import.meta.url));

describe('sandbox directory HTTPS server', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let dir: SandboxDirectory;
  let server: SandboxServer;
  let baseUrl: string;
  let tpp: SandboxTpp;
  let ca: string;

  const get = (pathOrUrl: string, headers?: Record<string, string>) =>
    httpsGet(pathOrUrl.startsWith('https://') ? pathOrUrl : `${baseUrl}${pathOrUrl}`, { ca, ...(headers ? { headers } : {}) });
  const kidsOf = async (url: string) => (await get(url)).json<{ keys: JWK[] }>().keys.map((k) => k.kid);
  const child = async (...args: string[]) =>
    (await execFileAsync(process.execPath, ['--import', 'tsx', CHILD, tmp.path, baseUrl, ...args], { timeout: 60_000 })).stdout;

  beforeAll(async () => {
    tmp = await makeTempDir();
    const port = await freePort();
    baseUrl = `https://localhost:${port}`;
    dir = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl });
    ca = dir.caCertPem;
    tpp = await dir.createTpp('server-tpp');
    server = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port });
    expect(server.port).toBe(port);
    expect(server.url).toBe(`https://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    await server?.close();
    await tmp.cleanup();
  });

  it('serves the directory JWKS over HTTPS (trusting the sandbox CA) and the SSA verifies against it', async () => {
    const res = await get(dir.directoryJwksUrl);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('max-age=60');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const jwks = res.json<{ keys: JWK[] }>();
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload, protectedHeader } = await jwtVerify(tpp.ssa, createLocalJWKSet(jwks), {
      issuer: 'OpenBanking Ltd',
      algorithms: ['PS256'],
      typ: 'JWT',
    });
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    expect(payload).toMatchObject({
      software_id: tpp.softwareId,
      org_id: tpp.orgId,
      org_status: 'Active',
      software_jwks_endpoint: `${baseUrl}/tpp/${tpp.orgId}/${tpp.softwareId}/jwks`,
    });
  });

  it('serves the software and organisation JWKS named in the SSA, with the signing and transport keys', async () => {
    const payload = (await jwtVerify(tpp.ssa, createLocalJWKSet(await dir.directoryJwks()))).payload as JWTPayload &
      Record<string, string>;
    const res = await get(payload.software_jwks_endpoint as string);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('max-age=60');
    const { keys } = res.json<{ keys: JWK[] }>();
    const signing = keys.find((k) => k.kid === tpp.signingKid);
    expect(signing).toMatchObject({ use: 'sig', alg: 'PS256', kty: 'RSA' });
    expect(signing).not.toHaveProperty('d');
    const tls = keys.find((k) => k.use === 'tls');
    const der = new x509.X509Certificate(tpp.transportCertPem).rawData;
    expect(tls?.x5c).toEqual([Buffer.from(der).toString('base64')]);
    expect(tls?.['x5t#S256']).toBe(createHash('sha256').update(Buffer.from(der)).digest('base64url'));
    expect(tls?.kid).toBe(tpp.transportKid);

    expect(await kidsOf(payload.org_jwks_endpoint as string)).toEqual(keys.map((k) => k.kid));
    expect((await get(payload.software_jwks_revoked_endpoint as string)).json()).toEqual({ keys: [] });
    expect((await get(payload.org_jwks_revoked_endpoint as string)).json()).toEqual({ keys: [] });
  });

  it('moves a revoked signing key to the served revoked JWKS', async () => {
    const t = await dir.createTpp('server-key-revoke');
    expect(await kidsOf(t.softwareJwksUrl)).toContain(t.signingKid);
    await dir.revokeSigningKey(t.name);
    expect(await kidsOf(t.softwareJwksUrl)).not.toContain(t.signingKid);
    expect(await kidsOf(t.softwareJwksRevokedUrl)).toEqual([t.signingKid]);
    expect(await kidsOf(t.orgJwksUrl)).not.toContain(t.signingKid);
    expect(await kidsOf(t.orgJwksRevokedUrl)).toEqual([t.signingKid]);
  });

  it('serves a DER CRL signed by the CA that lists revoked transport certificates', async () => {
    const t = await dir.createTpp('server-cert-revoke');
    const first = await get('/crl/ca.crl');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/pkix-crl');
    expect(new x509.X509Crl(first.body).findRevoked(t.transportSerial)).toBeNull();

    await dir.revokeTransportCertificate(t.name);
    const res = await get('/crl/ca.crl');
    const crl = new x509.X509Crl(res.body);
    expect(await crl.verify({ publicKey: new x509.X509Certificate(ca) })).toBe(true);
    expect(crl.findRevoked(new x509.X509Certificate(t.transportCertPem))).not.toBeNull();
    expect(crl.nextUpdate && crl.nextUpdate.getTime() > Date.now()).toBe(true);
  });

  it('serves the CA certificate (AIA caIssuers)', async () => {
    const res = await get('/ca/ca.crt');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pkix-cert');
    expect(new x509.X509Certificate(res.body).toString('pem')).toBe(new x509.X509Certificate(ca).toString('pem'));
  });

  it('answers the CDR Register-shaped and simple status APIs, reflecting revocations', async () => {
    const t = await dir.createTpp('server-status');
    const orgs = await get('/cdr-register/v1/banking/data-recipients/status');
    expect(orgs.status).toBe(200);
    expect(orgs.headers['cache-control']).toBe('max-age=60');
    expect(orgs.json<{ data: unknown[] }>().data).toContainEqual({ legalEntityId: t.orgId, status: 'ACTIVE' });
    const sw = await get('/cdr-register/v1/all/data-recipients/brands/software-products/status');
    expect(sw.json<{ data: unknown[] }>().data).toContainEqual({ softwareProductId: t.softwareId, status: 'ACTIVE' });
    expect((await get(`/status/orgs/${t.orgId}`)).json()).toEqual({ id: t.orgId, status: 'Active' });
    expect((await get(`/status/software/${t.softwareId}`)).json()).toEqual({ id: t.softwareId, status: 'Active' });

    await dir.revokeOrganisation(t.orgId);
    await dir.revokeSoftware(t.softwareId);
    expect((await get('/cdr-register/v1/banking/data-recipients/status')).json<{ data: unknown[] }>().data).toContainEqual({
      legalEntityId: t.orgId,
      status: 'REVOKED',
    });
    expect(
      (await get('/cdr-register/v1/banking/data-recipients/brands/software-products/status')).json<{ data: unknown[] }>().data,
    ).toContainEqual({ softwareProductId: t.softwareId, status: 'INACTIVE' });
    expect((await get(`/status/orgs/${t.orgId}`)).json()).toEqual({ id: t.orgId, status: 'Revoked' });
    expect((await get(`/status/software/${t.softwareId}`)).json()).toEqual({ id: t.softwareId, status: 'Inactive' });
    // The new SSA says so too.
    const { payload } = await jwtVerify(await dir.issueSsa(t.name), createLocalJWKSet(await dir.directoryJwks()));
    expect(payload.org_status).toBe('Revoked');
  });

  it('answers 404 JSON for unknown ids and routes, 400 JSON for malformed parameters', async () => {
    for (const path of [
      '/status/orgs/0015800000000000ZZ',
      '/status/software/AAAAAAAAAAAAAAAAAAAAAA',
      `/tpp/${tpp.orgId}/AAAAAAAAAAAAAAAAAAAAAA/jwks`,
      '/org/0015800000000000ZZ/jwks',
      '/org/0015800000000000ZZ/revoked',
      '/no/such/route',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.json(), path).toMatchObject({ error: 'not_found' });
    }
    for (const path of ['/status/orgs/not-base62!', '/cdr-register/v1/mining/data-recipients/status', `/tpp/${tpp.orgId}/${'A'.repeat(23)}/jwks`]) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.json(), path).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('supports conditional GET (ETag / If-None-Match)', async () => {
    const first = await get(tpp.softwareJwksUrl);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const second = await get(tpp.softwareJwksUrl, { 'if-none-match': etag });
    expect(second.status).toBe(304);
    expect(second.body.length).toBe(0);
  });

  it('answers 503 to every route while the outage switch is on', async () => {
    await dir.setOutage(true);
    try {
      for (const path of ['/directory/jwks', tpp.softwareJwksUrl, '/crl/ca.crl', '/cdr-register/v1/banking/data-recipients/status', `/status/orgs/${tpp.orgId}`, '/no/such/route']) {
        const res = await get(path);
        expect(res.status, path).toBe(503);
        expect(res.json(), path).toMatchObject({ error: 'temporarily_unavailable' });
      }
    } finally {
      await dir.setOutage(false);
    }
    expect((await get('/directory/jwks')).status).toBe(200);
  });

  it("sees revocations made by a second SandboxDirectory instance on the same data dir", async () => {
    const t = await dir.createTpp('server-second-instance');
    const second = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl });
    await second.revokeSigningKey(t.name);
    await second.revokeSoftware(t.softwareId);
    expect(await kidsOf(t.softwareJwksRevokedUrl)).toEqual([t.signingKid]);
    expect((await get(`/status/software/${t.softwareId}`)).json()).toEqual({ id: t.softwareId, status: 'Inactive' });
    await second.setOutage(true);
    expect((await get('/directory/jwks')).status).toBe(503);
    await second.setOutage(false);
    expect((await get('/directory/jwks')).status).toBe(200);
  });

  it('serves the JWKS with the configured Cache-Control (the benchmark\'s no-store directory mode); the CRL keeps max-age', async () => {
    const srv = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port: 0, jwksCacheControl: 'no-store' });
    try {
      const at = (path: string) => httpsGet(`https://localhost:${srv.port}${path}`, { ca });
      for (const path of ['/directory/jwks', `/tpp/${tpp.orgId}/${tpp.softwareId}/jwks`, `/tpp/${tpp.orgId}/${tpp.softwareId}/revoked`, `/org/${tpp.orgId}/jwks`]) {
        const res = await at(path);
        expect(res.status, path).toBe(200);
        expect(res.headers['cache-control'], path).toBe('no-store');
      }
      expect((await at('/status/orgs/' + tpp.orgId)).headers['cache-control']).toBe('max-age=60');
    } finally {
      await srv.close();
    }
  });

  it('sees TPPs, revocations and the outage switch set by another process', async () => {
    const created = JSON.parse(await child('create-tpp', 'child-tpp')) as { orgId: string; softwareId: string; signingKid: string };
    expect(await kidsOf(`/tpp/${created.orgId}/${created.softwareId}/jwks`)).toContain(created.signingKid);
    expect(await dir.getTpp('child-tpp')).toMatchObject({ orgId: created.orgId });

    await child('revoke-software', created.softwareId);
    expect((await get(`/status/software/${created.softwareId}`)).json()).toEqual({ id: created.softwareId, status: 'Inactive' });

    await child('revoke-cert', 'child-tpp');
    const child_tpp = await dir.getTpp('child-tpp');
    expect(new x509.X509Crl((await get('/crl/ca.crl')).body).findRevoked(child_tpp?.transportSerial ?? '')).not.toBeNull();

    await child('outage-on');
    expect((await get('/status/orgs/' + created.orgId)).status).toBe(503);
    await child('outage-off');
    expect((await get('/status/orgs/' + created.orgId)).status).toBe(200);
  });

  it('by default presents a server certificate valid for the base URL host (e.g. a compose service name)', async () => {
    const other = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl: 'https://directory-sandbox:8444' });
    const srv = await startSandboxDirectoryServer(other, { host: '127.0.0.1', port: 0 });
    try {
      for (const servername of ['directory-sandbox', 'localhost']) {
        const authorized = await new Promise<boolean>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port: srv.port, servername, ca }, () => {
            resolve(socket.authorized);
            socket.end();
          });
          socket.once('error', reject);
        });
        expect(authorized, servername).toBe(true);
      }
    } finally {
      await srv.close();
    }
  });
});
