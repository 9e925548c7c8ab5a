import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertificateAuthority, generateRootCa } from '../../sandbox/directory-sandbox/ca.js';
import { exportPrivateKeyPem, generateKeyPair, RSA_PKCS1_SHA256, type x509 } from '../../sandbox/directory-sandbox/webcrypto.js';

/**
 * A second CA the intake trusts (`DCR_CLIENT_CA_FILE`), beside the sandbox directory's: another
 * directory or eIDAS QTSP. It issues client certificates with any subject, as a real CA could.
 */
export interface SecondCa {
  certPem: string;
  /** The PEM file to name in `DCR_CLIENT_CA_FILE`. */
  file: string;
  issue(subject: x509.JsonName, options?: { purpose?: 'tls-client' | 'tls-server' }): Promise<{ certPem: string; keyPem: string }>;
}

export async function createSecondCa(dir: string): Promise<SecondCa> {
  const files = await generateRootCa();
  const ca = await CertificateAuthority.load(files);
  const file = join(dir, 'second-ca.pem');
  await writeFile(file, files.certPem);
  return {
    certPem: files.certPem,
    file,
    async issue(subject, options = {}) {
      const keys = await generateKeyPair(RSA_PKCS1_SHA256);
      const cert = await ca.issue({ subject, publicKey: keys.publicKey, profile: options.purpose ?? 'tls-client', validityDays: 30 });
      return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
    },
  };
}
