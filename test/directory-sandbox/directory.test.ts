import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, calculateJwkThumbprint, importJWK, SignJWT, compactVerify } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SandboxConflictError,
  SandboxDirectory,
  SandboxInputError,
  SandboxNotFoundError,
  x509,
} from '../../sandbox/directory-sandbox/index.js';
import type { SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { makeTempDir } from './helpers.js';

const BASE_URL = 'https://localhost:8444';

describe('SandboxDirectory', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let dir: SandboxDirectory;
  let tpp: SandboxTpp;

  beforeAll(async () => {
    tmp = await makeTempDir();
    dir = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl: BASE_URL });
    tpp = await dir.createTpp('acme');
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('persists the CA and the directory signing key with private files mode 0600', async () => {
    const sandbox = join(tmp.path, 'sandbox');
    expect(await readFile(join(sandbox, 'ca.crt.pem'), 'utf8')).toBe(dir.caCertPem);
    expect((await stat(join(sandbox, 'ca.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(sandbox, 'directory-signing.key.pem'))).mode & 0o777).toBe(0o600);
    const ca = new x509.X509Certificate(dir.caCertPem);
    expect(ca.subject).toContain('CN=DCR Sandbox Root CA');
    expect(ca.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(await ca.isSelfSigned()).toBe(true);
  });

  it('creating a TPP writes its files', async () => {
    expect(tpp.dir).toBe(join(tmp.path, 'sandbox', 'tpps', 'acme'));
    for (const f of ['transport.crt.pem', 'transport.key.pem', 'ca.crt.pem', 'ssa.jwt', 'tpp.json', 'signing.jwk.json']) {
      expect((await stat(join(tpp.dir, f))).isFile()).toBe(true);
    }
    for (const f of ['signing.jwk.json', 'transport.key.pem']) {
      expect((await stat(join(tpp.dir, f))).mode & 0o777).toBe(0o600);
    }
    expect(JSON.parse(await readFile(join(tpp.dir, 'signing.jwk.json'), 'utf8'))).toEqual(tpp.signingPrivateJwk);
    expect((await readFile(join(tpp.dir, 'ssa.jwt'), 'utf8')).trim()).toBe(tpp.ssa);
    expect(await readFile(join(tpp.dir, 'transport.crt.pem'), 'utf8')).toBe(tpp.transportCertPem);
    expect(await readFile(join(tpp.dir, 'ca.crt.pem'), 'utf8')).toBe(dir.caCertPem);
    const meta = JSON.parse(await readFile(join(tpp.dir, 'tpp.json'), 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ name: 'acme', orgId: tpp.orgId, softwareId: tpp.softwareId, signingKid: tpp.signingKid });
    expect(JSON.stringify(meta)).not.toContain('"d"');
  });

  it('issues Base62 ids in the OB formats and default metadata', () => {
    expect(tpp.orgId).toMatch(/^00158000[0-9A-Za-z]{10}$/);
    expect(tpp.softwareId).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(tpp.roles).toEqual(['AISP', 'PISP']);
    expect(tpp.redirectUris).toEqual(['https://acme.example.com/callback']);
    expect(tpp.signingAlg).toBe('PS256');
    expect(tpp.softwareJwksUrl).toBe(`${BASE_URL}/tpp/${tpp.orgId}/${tpp.softwareId}/jwks`);
    expect(tpp.softwareJwksRevokedUrl).toBe(`${BASE_URL}/tpp/${tpp.orgId}/${tpp.softwareId}/revoked`);
    expect(tpp.orgJwksUrl).toBe(`${BASE_URL}/org/${tpp.orgId}/jwks`);
    expect(tpp.orgJwksRevokedUrl).toBe(`${BASE_URL}/org/${tpp.orgId}/revoked`);
    expect(tpp.transportSubjectDn).toBe(`CN=${tpp.softwareId},OU=${tpp.orgId},O=OpenBanking,C=GB`);
  });

  it('issues a transport certificate chained to the CA with the OB DN, CDP, AIA and clientAuth', async () => {
    const cert = new x509.X509Certificate(tpp.transportCertPem);
    const ca = new x509.X509Certificate(dir.caCertPem);
    expect(await cert.verify({ publicKey: ca, signatureOnly: true })).toBe(true);
    const chain = await new x509.X509ChainBuilder({ certificates: [ca] }).build(cert);
    expect(chain.map((c) => c.subject)).toEqual([cert.subject, ca.subject]);
    expect(cert.issuer).toBe(ca.subject);

    const subject = cert.subjectName;
    expect(subject.getField('CN')).toEqual([tpp.softwareId]);
    expect(subject.getField('OU')).toEqual([tpp.orgId]);
    expect(subject.getField('O')).toEqual(['OpenBanking']);
    expect(subject.getField('C')).toEqual(['GB']);

    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku && ku.usages & x509.KeyUsageFlags.digitalSignature).toBeTruthy();
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    expect(ski?.keyId).toMatch(/^[0-9a-f]+$/);
    expect(aki?.keyId).toBe(ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);

    const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
    const cdpUrls = cdp?.distributionPoints.flatMap((d) => d.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier) ?? []);
    expect(cdpUrls).toEqual([`${BASE_URL}/crl/ca.crl`]);
    const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
    expect(aia?.ocsp.map((g) => g.value)).toEqual([`${BASE_URL}/ocsp`]);

    // Positive, random serial matching the metadata.
    expect(cert.serialNumber.toLowerCase()).toBe(tpp.transportSerial);
    expect(Number.parseInt(cert.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
    const other = await dir.createTpp('other-serial');
    expect(other.transportSerial).not.toBe(tpp.transportSerial);
  });

  it('gives the signing key an RFC 7638 kid; PS256 is RSA 2048 and ES256 is P-256', async () => {
    expect(tpp.signingPrivateJwk).toMatchObject({ kty: 'RSA', kid: tpp.signingKid, alg: 'PS256', use: 'sig' });
    expect(Buffer.from(tpp.signingPrivateJwk.n as string, 'base64url').length).toBe(256);
    expect(await calculateJwkThumbprint(tpp.signingPrivateJwk)).toBe(tpp.signingKid);
    expect(tpp.signingPrivateJwk.d).toBeTypeOf('string');

    const ec = await dir.createTpp('ec-tpp', { signingAlg: 'ES256', roles: ['CBPII'], orgName: 'EC Org', redirectUris: ['https://ec.example.org/cb'] });
    expect(ec.signingPrivateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: ec.signingKid, alg: 'ES256' });
    expect(await calculateJwkThumbprint(ec.signingPrivateJwk)).toBe(ec.signingKid);
    // The private JWK signs and its public part verifies.
    const key = await importJWK(ec.signingPrivateJwk, 'ES256');
    const jws = await new SignJWT({ a: 1 }).setProtectedHeader({ alg: 'ES256', kid: ec.signingKid }).sign(key);
    const { d: _d, ...pub } = ec.signingPrivateJwk;
    await expect(compactVerify(jws, await importJWK(pub, 'ES256'))).resolves.toBeDefined();
    const claims = (await jwtVerify(await dir.issueSsa('ec-tpp'), createLocalJWKSet(await dir.directoryJwks()))).payload;
    expect(claims).toMatchObject({ software_roles: ['CBPII'], org_name: 'EC Org', software_redirect_uris: ['https://ec.example.org/cb'] });
  });

  it('issues an OBIE-shaped SSA signed PS256 with the directory key (kid = x5t of its certificate)', async () => {
    const jwks = await dir.directoryJwks();
    expect(jwks.keys).toHaveLength(1);
    const dirKey = jwks.keys[0] as JWK;
    expect(dirKey).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'PS256' });
    expect(dirKey.kid).toBe(dirKey.x5t);
    const signingCert = new x509.X509Certificate(Buffer.from((dirKey.x5c as string[])[0] as string, 'base64'));
    expect(Buffer.from(await signingCert.getThumbprint('SHA-1')).toString('base64url')).toBe(dirKey.kid);
    expect(await signingCert.verify({ publicKey: new x509.X509Certificate(dir.caCertPem), signatureOnly: true })).toBe(true);

    const header = decodeProtectedHeader(tpp.ssa);
    expect(header).toEqual({ alg: 'PS256', kid: dirKey.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(tpp.ssa, createLocalJWKSet(jwks), { issuer: 'OpenBanking Ltd', algorithms: ['PS256'] });
    expect(payload).toMatchObject({
      iss: 'OpenBanking Ltd',
      software_id: tpp.softwareId,
      software_client_id: tpp.softwareId,
      software_client_name: 'acme',
      software_version: '1.0',
      software_environment: 'sandbox',
      software_mode: 'Test',
      software_redirect_uris: ['https://acme.example.com/callback'],
      software_roles: ['AISP', 'PISP'],
      software_jwks_endpoint: tpp.softwareJwksUrl,
      software_jwks_revoked_endpoint: tpp.softwareJwksRevokedUrl,
      org_id: tpp.orgId,
      org_name: 'acme Ltd',
      org_status: 'Active',
      org_jwks_endpoint: tpp.orgJwksUrl,
      org_jwks_revoked_endpoint: tpp.orgJwksRevokedUrl,
      organisation_competent_authority_claims: {
        authority_id: 'FCAGBR',
        registration_id: '123456',
        status: 'Active',
        authorisations: [{ member_state: 'GB', roles: ['AISP', 'PISP'] }],
      },
    });
    for (const claim of ['software_client_description', 'software_logo_uri', 'software_policy_uri', 'software_tos_uri', 'software_client_uri']) {
      expect(payload[claim]).toBeTypeOf('string');
    }
    expect(new URL(payload.software_logo_uri as string).host).toBe('acme.example.com');
    expect(Array.isArray(payload.org_contacts)).toBe(true);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.iat).toBeTypeOf('number');
    expect(payload.exp).toBeUndefined();
  });

  it('issueSsa gives a fresh jti and merges overrides (undefined removes a claim)', async () => {
    const a = await jwtVerify(await dir.issueSsa('acme'), createLocalJWKSet(await dir.directoryJwks()));
    const b = await jwtVerify(
      await dir.issueSsa('acme', { software_roles: ['AISP'], org_contacts: undefined, custom: 'x' }),
      createLocalJWKSet(await dir.directoryJwks()),
    );
    expect(a.payload.jti).not.toBe(b.payload.jti);
    expect(b.payload.software_roles).toEqual(['AISP']);
    expect(b.payload.custom).toBe('x');
    expect('org_contacts' in b.payload).toBe(false);
    await expect(dir.issueSsa('nobody')).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  it('revokeOrganisation changes org_status of newly issued SSAs and the status', async () => {
    const t = await dir.createTpp('to-revoke');
    expect(await dir.organisationStatus(t.orgId)).toBe('Active');
    await dir.revokeOrganisation(t.orgId);
    const { payload } = await jwtVerify(await dir.issueSsa('to-revoke'), createLocalJWKSet(await dir.directoryJwks()));
    expect(payload.org_status).toBe('Revoked');
    expect(await dir.organisationStatus(t.orgId)).toBe('Revoked');
    // The SSA issued at creation is unchanged (as a real SSA a TPP holds).
    expect((await jwtVerify(t.ssa, createLocalJWKSet(await dir.directoryJwks()))).payload.org_status).toBe('Active');
    await expect(dir.revokeOrganisation('0015800000000000XX')).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  it('revokeSigningKey moves the signing key to the revoked JWKS', async () => {
    const t = await dir.createTpp('key-revoke');
    const kids = (jwks: { keys: JWK[] } | undefined) => jwks?.keys.map((k) => k.kid);
    expect(kids(await dir.softwareJwks(t.orgId, t.softwareId))).toContain(t.signingKid);
    await dir.revokeSigningKey('key-revoke');
    expect(kids(await dir.softwareJwks(t.orgId, t.softwareId))).not.toContain(t.signingKid);
    expect(kids(await dir.softwareJwks(t.orgId, t.softwareId, 'revoked'))).toEqual([t.signingKid]);
    expect(kids(await dir.orgJwks(t.orgId, 'revoked'))).toEqual([t.signingKid]);
    expect(await dir.softwareJwks(tpp.orgId, t.softwareId)).toBeUndefined(); // wrong org
  });

  it('revokeTransportCertificate lists the serial in a CRL that verifies against the CA key', async () => {
    const t = await dir.createTpp('cert-revoke');
    const before = new x509.X509Crl(await dir.crlDer());
    expect(before.findRevoked(t.transportSerial)).toBeNull();

    await dir.revokeTransportCertificate('cert-revoke');
    const der = await dir.crlDer();
    const crl = new x509.X509Crl(der);
    const ca = new x509.X509Certificate(dir.caCertPem);
    expect(await crl.verify({ publicKey: ca })).toBe(true);
    expect(crl.issuer).toBe(ca.subject);
    const cert = new x509.X509Certificate(t.transportCertPem);
    expect(crl.findRevoked(cert)).not.toBeNull();
    expect(crl.findRevoked(tpp.transportSerial)).toBeNull();
    const now = Date.now();
    expect(Math.abs(crl.thisUpdate.getTime() - now)).toBeLessThan(60_000);
    expect((crl.nextUpdate?.getTime() ?? 0) - crl.thisUpdate.getTime()).toBe(3_600_000);
    // The transport key also moves to the revoked JWKS.
    const revoked = await dir.softwareJwks(t.orgId, t.softwareId, 'revoked');
    expect(revoked?.keys.map((k) => k.use)).toEqual(['tls']);

    // The CRL-only variant leaves the JWKS alone.
    const t2 = await dir.createTpp('cert-revoke-crl-only');
    await dir.revokeTransportCertificate('cert-revoke-crl-only', { revokedJwks: false });
    expect(new x509.X509Crl(await dir.crlDer()).findRevoked(t2.transportSerial)).not.toBeNull();
    expect((await dir.softwareJwks(t2.orgId, t2.softwareId, 'revoked'))?.keys).toEqual([]);
  });

  it('refuses duplicate and invalid names and bad options', async () => {
    await expect(dir.createTpp('acme')).rejects.toBeInstanceOf(SandboxConflictError);
    await expect(dir.createTpp('../evil')).rejects.toBeInstanceOf(SandboxInputError);
    await expect(dir.createTpp('bad', { roles: [] })).rejects.toBeInstanceOf(SandboxInputError);
    await expect(dir.createTpp('bad', { signingAlg: 'RS256' as 'PS256' })).rejects.toBeInstanceOf(SandboxInputError);
    await expect(dir.revokeSigningKey('nobody')).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await dir.getTpp('../acme')).toBeUndefined();
    expect(await dir.getTpp('nobody')).toBeUndefined();
  });

  it('issues server certificates with SANs and serverAuth', async () => {
    const { certPem, keyPem } = await dir.issueServerCertificate(['localhost', '127.0.0.1', 'dcr.test']);
    expect(keyPem).toContain('PRIVATE KEY');
    const cert = new x509.X509Certificate(certPem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'dcr.test' },
    ]);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    await expect(dir.issueServerCertificate([])).rejects.toBeInstanceOf(SandboxInputError);
  });

  it('re-opening the same data dir returns the same CA, directory key and TPPs', async () => {
    const again = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl: BASE_URL });
    expect(again.caCertPem).toBe(dir.caCertPem);
    expect(await again.directoryJwks()).toEqual(await dir.directoryJwks());
    const names = (await again.listTpps()).map((t) => t.name);
    expect(names).toEqual((await dir.listTpps()).map((t) => t.name));
    expect(names).toContain('acme');
    expect(await again.getTpp('acme')).toEqual(tpp);
    // State written by one instance is read by the other.
    expect(await again.organisationStatus(tpp.orgId)).toBe('Active');
  });

  it('serialises concurrent updates from two instances (no lost update)', async () => {
    const other = await SandboxDirectory.open({ dataDir: tmp.path, baseUrl: BASE_URL });
    const [t1, t2] = await Promise.all([dir.createTpp('conc-a'), other.createTpp('conc-b')]);
    await Promise.all([
      dir.revokeSoftware(t1.softwareId),
      other.revokeSoftware(t2.softwareId),
      dir.revokeSigningKey('conc-b'),
      other.revokeSigningKey('conc-a'),
      dir.setOutage(false),
    ]);
    for (const d of [dir, other]) {
      expect(await d.softwareStatus(t1.softwareId)).toBe('Inactive');
      expect(await d.softwareStatus(t2.softwareId)).toBe('Inactive');
      expect((await d.softwareJwks(t1.orgId, t1.softwareId, 'revoked'))?.keys).toHaveLength(1);
      expect((await d.softwareJwks(t2.orgId, t2.softwareId, 'revoked'))?.keys).toHaveLength(1);
    }
  });
});
