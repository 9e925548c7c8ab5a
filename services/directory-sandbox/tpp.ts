/**
 * A TPP's key material (transport certificate for mTLS, signing key) and its files under
 * DATA_DIR/sandbox/tpps/<name>.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { CertificateAuthority } from './ca.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from './fs-util.js';
import { certificateJwk, signingJwks } from './jwks.js';
import type { SigningAlg } from './jwks.js';
import { EC_P256, RSA_PKCS1_SHA256, RSA_PSS_SHA256, exportPrivateKeyPem, generateKeyPair, normaliseSerial } from './webcrypto.js';

export const TPP_FILES = {
  metadata: 'tpp.json',
  signingJwk: 'signing.jwk.json',
  transportCert: 'transport.crt.pem',
  transportKey: 'transport.key.pem',
  caCert: 'ca.crt.pem',
  ssa: 'ssa.jwt',
} as const;

/** Transport certificates live two years, like OB Directory ones. */
const TRANSPORT_VALIDITY_DAYS = 730;

/** `tpp.json`: what the directory knows about the TPP (no secrets). */
export interface TppMetadata {
  name: string;
  orgId: string;
  orgName: string;
  softwareId: string;
  clientName: string;
  host: string;
  roles: string[];
  redirectUris: string[];
  signingAlg: SigningAlg;
  signingKid: string;
  transportKid: string;
  /** Lower-case hex. */
  transportSerial: string;
  /** RFC 4514 order (most specific first), e.g. `CN=<softwareId>,OU=<orgId>,O=OpenBanking,C=GB`. */
  transportSubjectDn: string;
  createdAt: string;
  /** The endpoints as they were when the TPP was created. */
  urls: {
    softwareJwks: string;
    softwareJwksRevoked: string;
    orgJwks: string;
    orgJwksRevoked: string;
  };
}

export interface TppMaterial {
  transportCertPem: string;
  transportKeyPem: string;
  transportJwk: JWK;
  transportKid: string;
  transportSerial: string;
  signingPrivateJwk: JWK;
  signingPublicJwk: JWK;
  signingKid: string;
}

export interface TppMaterialRequest {
  orgId: string;
  softwareId: string;
  signingAlg: SigningAlg;
  crlUrl: string;
  ocspUrl: string;
  caIssuersUrl: string;
}

/** OB legacy transport DN: `CN=<softwareId>, OU=<orgId>, O=OpenBanking, C=GB` (SPEC §7.3). */
export function transportSubjectDn(orgId: string, softwareId: string): string {
  return `CN=${softwareId},OU=${orgId},O=OpenBanking,C=GB`;
}

/** Generates the transport key + certificate (RSA 2048, clientAuth) and the signing key. */
export async function generateTppMaterial(ca: CertificateAuthority, req: TppMaterialRequest): Promise<TppMaterial> {
  const [transportKeys, signingKeys] = await Promise.all([
    generateKeyPair(RSA_PKCS1_SHA256),
    generateKeyPair(req.signingAlg === 'ES256' ? EC_P256 : RSA_PSS_SHA256),
  ]);
  const cert = await ca.issue({
    // ASN.1 order, least specific first.
    subject: [{ C: ['GB'] }, { O: ['OpenBanking'] }, { OU: [req.orgId] }, { CN: [req.softwareId] }],
    publicKey: transportKeys.publicKey,
    profile: 'tls-client',
    validityDays: TRANSPORT_VALIDITY_DAYS,
    crlUrl: req.crlUrl,
    ocspUrl: req.ocspUrl,
    caIssuersUrl: req.caIssuersUrl,
  });
  const [transportJwk, signing, transportKeyPem] = await Promise.all([
    certificateJwk(cert, { use: 'tls' }),
    signingJwks(signingKeys.privateKey, req.signingAlg),
    exportPrivateKeyPem(transportKeys.privateKey),
  ]);
  return {
    transportCertPem: cert.toString('pem'),
    transportKeyPem,
    transportJwk,
    transportKid: transportJwk.kid as string,
    transportSerial: normaliseSerial(cert.serialNumber),
    signingPrivateJwk: signing.privateJwk,
    signingPublicJwk: signing.publicJwk,
    signingKid: signing.kid,
  };
}

export interface TppFiles {
  meta: TppMetadata;
  transportCertPem: string;
  transportKeyPem: string;
  signingPrivateJwk: JWK;
  caCertPem: string;
  ssa: string;
}

/** Writes every file of a TPP into `dir` (created with mode 0700; private keys 0600). */
export async function writeTppFiles(dir: string, files: TppFiles): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await Promise.all([
    writeFileAtomic(join(dir, TPP_FILES.metadata), `${JSON.stringify(files.meta, null, 2)}\n`, PUBLIC_FILE_MODE),
    writeFileAtomic(join(dir, TPP_FILES.signingJwk), `${JSON.stringify(files.signingPrivateJwk, null, 2)}\n`, PRIVATE_FILE_MODE),
    writeFileAtomic(join(dir, TPP_FILES.transportCert), files.transportCertPem, PUBLIC_FILE_MODE),
    writeFileAtomic(join(dir, TPP_FILES.transportKey), files.transportKeyPem, PRIVATE_FILE_MODE),
    writeFileAtomic(join(dir, TPP_FILES.caCert), files.caCertPem, PUBLIC_FILE_MODE),
    writeFileAtomic(join(dir, TPP_FILES.ssa), `${files.ssa}\n`, PRIVATE_FILE_MODE),
  ]);
}

export async function readTppFiles(dir: string): Promise<TppFiles> {
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  const [meta, signing, cert, key, ca, ssa] = await Promise.all([
    read(TPP_FILES.metadata),
    read(TPP_FILES.signingJwk),
    read(TPP_FILES.transportCert),
    read(TPP_FILES.transportKey),
    read(TPP_FILES.caCert),
    read(TPP_FILES.ssa),
  ]);
  return {
    meta: JSON.parse(meta) as TppMetadata,
    signingPrivateJwk: JSON.parse(signing) as JWK,
    transportCertPem: cert,
    transportKeyPem: key,
    caCertPem: ca,
    ssa: ssa.trim(),
  };
}
