/**
 * A TPP's key material (transport certificate for mTLS, signing key) and its files under
 * DATA_DIR/sandbox/tpps/<name>.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { CertificateAuthority } from './ca.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from './fs-util.js';
import { certificateJwk, signingJwks } from './jwks.js';
import type { SigningAlg } from './jwks.js';
import type { SandboxEcosystem } from './ssa.js';
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
  /** Open Finance Brasil: an RSA-OAEP key pair for encryption (`use: enc`), published in the software JWKS. */
  encryption?: { privateJwk: JWK; publicJwk: JWK };
  signingKid: string;
}

export interface TppMaterialRequest {
  orgId: string;
  softwareId: string;
  signingAlg: SigningAlg;
  crlUrl: string;
  ocspUrl: string;
  caIssuersUrl: string;
  /** Which directory's certificate shape to issue (default the OB Directory's). */
  ecosystem?: SandboxEcosystem;
  /** The software's host (`CN` of Open Finance Brasil certificates). */
  host?: string;
}

/** OB legacy transport DN: `CN=<softwareId>, OU=<orgId>, O=OpenBanking, C=GB` (SPEC §7.3). */
export function transportSubjectDn(orgId: string, softwareId: string, ecosystem: SandboxEcosystem = 'obie', host = ''): string {
  if (ecosystem === 'openfinance-br') return `CN=${host},UID=${softwareId},2.5.4.97=OFBBR-${orgId},O=Sandbox TPP,C=BR`;
  return `CN=${softwareId},OU=${orgId},O=OpenBanking,C=GB`;
}

/** OIDs the Open Finance Brasil certificate DN carries (ICP-Brasil-like). */
const OID_UID = '0.9.2342.19200300.100.1.1';
const OID_ORGANIZATION_IDENTIFIER = '2.5.4.97';

/** The transport certificate subject, ASN.1 order (least specific first). */
function transportSubject(req: TppMaterialRequest): Array<Record<string, string[]>> {
  if (req.ecosystem === 'openfinance-br') {
    // Open Finance Brasil: UID = software_id, organizationIdentifier = OFBBR-<org_id> (SPEC §7.3).
    return [{ C: ['BR'] }, { O: ['Sandbox TPP'] }, { [OID_ORGANIZATION_IDENTIFIER]: [`OFBBR-${req.orgId}`] }, { [OID_UID]: [req.softwareId] }, { CN: [req.host ?? req.softwareId] }];
  }
  return [{ C: ['GB'] }, { O: ['OpenBanking'] }, { OU: [req.orgId] }, { CN: [req.softwareId] }];
}

/** Generates the transport key + certificate (RSA 2048, clientAuth) and the signing key. */
export async function generateTppMaterial(ca: CertificateAuthority, req: TppMaterialRequest): Promise<TppMaterial> {
  const [transportKeys, signingKeys] = await Promise.all([
    generateKeyPair(RSA_PKCS1_SHA256),
    generateKeyPair(req.signingAlg === 'ES256' ? EC_P256 : RSA_PSS_SHA256),
  ]);
  const cert = await ca.issue({
    // ASN.1 order, least specific first.
    subject: transportSubject(req),
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
  const encryption = req.ecosystem === 'openfinance-br' ? encryptionJwks() : undefined;
  return {
    ...(encryption ? { encryption } : {}),
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

/** An RSA-OAEP encryption key (the bank encrypts ID tokens to it); `kid` = its JWK thumbprint. */
function encryptionJwks(): { privateJwk: JWK; publicJwk: JWK } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = createHash('sha256').update(JSON.stringify({ e: pub.e, kty: pub.kty, n: pub.n })).digest('base64url');
  const meta = { kid, use: 'enc', alg: 'RSA-OAEP' };
  return { privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), ...meta }, publicJwk: { ...pub, ...meta } };
}

export interface TppFiles {
  meta: TppMetadata;
  transportCertPem: string;
  transportKeyPem: string;
  signingPrivateJwk: JWK;
  caCertPem: string;
  ssa: string;
  /** Open Finance Brasil: the private encryption key (written as encryption.jwk.json, 0600). */
  encryptionPrivateJwk?: JWK;
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
    ...(files.encryptionPrivateJwk ? [writeFileAtomic(join(dir, 'encryption.jwk.json'), `${JSON.stringify(files.encryptionPrivateJwk, null, 2)}\n`, PRIVATE_FILE_MODE)] : []),
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
