import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../sandbox/directory-sandbox/ca.js';
import { SANDBOX_FILES } from '../../sandbox/directory-sandbox/index.js';
import { generateKeyPair, RSA_PKCS1_SHA256, exportPrivateKeyPem, x509, type CryptoKey } from '../../sandbox/directory-sandbox/webcrypto.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';

/**
 * SPEC §7.3 alternative binding, end to end (OBIE profile, embedded adapters): a transport
 * certificate whose subject does not follow the OB legacy convention (OU = org_id but CN is not the
 * software_id) binds to the SSA because its public key is in the software JWKS the SSA names; the
 * same subject on a key that is not in that JWKS is refused.
 */
describe('certificate bound through the software JWKS (SPEC §7.3 alternative binding)', () => {
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let ca: CertificateAuthority;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    tpp = await pipeline.createTpp('jwksbound');
    const dir = join(pipeline.dataDir, 'sandbox');
    ca = await CertificateAuthority.load({
      certPem: await readFile(join(dir, SANDBOX_FILES.caCert), 'utf8'),
      keyPem: await readFile(join(dir, SANDBOX_FILES.caKey), 'utf8'),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** A client certificate from the sandbox CA: OU = the TPP's org id, CN = a gateway name (not the software id). */
  async function gatewayCertificate(publicKey: CryptoKey): Promise<string> {
    const cert = await ca.issue({
      subject: [{ C: ['GB'] }, { O: ['OpenBanking'] }, { OU: [tpp.sandbox.orgId] }, { CN: ['jwksbound-gateway'] }],
      publicKey,
      profile: 'tls-client',
      validityDays: 30,
      crlUrl: pipeline.directory.crlUrl,
    });
    return cert.toString('pem');
  }

  function post(certPem: string, keyPem: string, body: string) {
    return httpsRequest(`${pipeline.intakeUrl}/register`, {
      method: 'POST',
      body,
      identity: { certPem, keyPem, caPem: pipeline.directory.caCertPem },
      headers: { 'content-type': 'application/jwt' },
    });
  }

  it('registers: the certificate key is the transport key of the software JWKS (201, client stored)', async () => {
    // The TPP's own transport key (published in its software JWKS), certified under another subject.
    const transportPublicKey = await new x509.X509Certificate(tpp.identity.certPem).publicKey.export(RSA_PKCS1_SHA256, ['verify']);
    const certPem = await gatewayCertificate(transportPublicKey);
    const res = await post(certPem, tpp.identity.keyPem, await tpp.sign(tpp.claims()));
    expect(res.status, JSON.stringify(res.json())).toBe(201);
    const body = res.json();
    expect(body.software_id).toBe(tpp.credentials.softwareId);
    const client = await pipeline.rt.adapters.store.getClient(String(body.client_id));
    expect(client?.status).toBe('active');
    expect(client?.orgId).toBe(tpp.sandbox.orgId);
  });

  it('refuses the same subject on a key that is not in the software JWKS: 400 unapproved_software_statement', async () => {
    const keys = await generateKeyPair(RSA_PKCS1_SHA256);
    const certPem = await gatewayCertificate(keys.publicKey);
    const res = await post(certPem, await exportPrivateKeyPem(keys.privateKey), await tpp.sign(tpp.claims()));
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: 'unapproved_software_statement' });
    expect(String(res.json().error_description)).toContain(`does not belong to SSA org_id '${tpp.sandbox.orgId}'`);
  });
});
