/**
 * The sandbox root CA: creation, loading, certificate issuance (transport, server, signing
 * profiles) and CRL signing. All certificate work goes through @peculiar/x509.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import {
  RSA_PKCS1_SHA256,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  randomSerialHex,
  x509,
} from './webcrypto.js';
import type { CryptoKey } from './webcrypto.js';

export const CA_COMMON_NAME = 'DCR Sandbox Root CA';
/**
 * ASN.1 order (C first): `CN=DCR Sandbox Root CA, OU=Instance <hex>, O=DCR Sandbox, C=GB`. The OU
 * makes each sandbox's CA name unique, so chain building never confuses two sandboxes' CAs.
 */
export function caSubject(instanceId: string): x509.JsonName {
  return [{ C: ['GB'] }, { O: ['DCR Sandbox'] }, { OU: [`Instance ${instanceId}`] }, { CN: [CA_COMMON_NAME] }];
}

const SIGNING_ALGORITHM = { name: RSA_PKCS1_SHA256.name, hash: RSA_PKCS1_SHA256.hash } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** notBefore is back-dated a little so that peers with a slightly slow clock accept new certs. */
const BACKDATE_MS = 5 * 60 * 1000;

export type CertificateProfile = 'tls-client' | 'tls-server' | 'signing';

export interface IssueCertificateRequest {
  subject: x509.JsonName;
  publicKey: CryptoKey;
  profile: CertificateProfile;
  validityDays: number;
  /** Subject alternative names (tls-server): host names and IP addresses, told apart automatically. */
  hostnames?: string[];
  crlUrl?: string;
  ocspUrl?: string;
  caIssuersUrl?: string;
}

export interface CrlEntry {
  /** Hex serial number. */
  serial: string;
  revokedAt: Date;
}

export interface CaFiles {
  certPem: string;
  keyPem: string;
}

/** Creates a new self-signed root CA (RSA 2048, SHA-256, 10 years). */
export async function generateRootCa(now = new Date()): Promise<CaFiles> {
  const keys = await generateKeyPair(RSA_PKCS1_SHA256);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: caSubject(randomBytes(4).toString('hex')),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export class CertificateAuthority {
  readonly cert: x509.X509Certificate;
  readonly certPem: string;
  readonly #key: CryptoKey;
  readonly #keyId: string;

  private constructor(cert: x509.X509Certificate, key: CryptoKey, keyId: string) {
    this.cert = cert;
    this.certPem = cert.toString('pem');
    this.#key = key;
    this.#keyId = keyId;
  }

  /** Loads the CA from PEM; the private key is imported once and kept. */
  static async load(files: CaFiles): Promise<CertificateAuthority> {
    const cert = new x509.X509Certificate(files.certPem);
    const key = await importPrivateKeyPem(files.keyPem, RSA_PKCS1_SHA256);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
    return new CertificateAuthority(cert, key, keyId);
  }

  async issue(req: IssueCertificateRequest, now = new Date()): Promise<x509.X509Certificate> {
    const ecKey = req.publicKey.algorithm.name === 'ECDSA';
    const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
    switch (req.profile) {
      case 'tls-client':
      case 'tls-server': {
        const usage = ecKey
          ? x509.KeyUsageFlags.digitalSignature
          : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
        extensions.push(new x509.KeyUsagesExtension(usage, true));
        extensions.push(
          new x509.ExtendedKeyUsageExtension(
            [req.profile === 'tls-client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth],
            false,
          ),
        );
        break;
      }
      case 'signing':
        extensions.push(
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
        );
        break;
    }
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(req.publicKey));
    extensions.push(new x509.AuthorityKeyIdentifierExtension(this.#keyId));
    if (req.hostnames && req.hostnames.length > 0) {
      extensions.push(
        new x509.SubjectAlternativeNameExtension(
          req.hostnames.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h })),
          false,
        ),
      );
    }
    if (req.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([req.crlUrl]));
    if (req.ocspUrl || req.caIssuersUrl) {
      extensions.push(
        new x509.AuthorityInfoAccessExtension({
          ...(req.ocspUrl ? { ocsp: [req.ocspUrl] } : {}),
          ...(req.caIssuersUrl ? { caIssuers: [req.caIssuersUrl] } : {}),
        }),
      );
    }
    return x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: req.subject,
      issuer: this.cert.subjectName,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + req.validityDays * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      publicKey: req.publicKey,
      signingKey: this.#key,
      extensions,
    });
  }

  /** A signed CRL (v2) listing the entries; thisUpdate = now, nextUpdate = now + validity. */
  async createCrl(entries: CrlEntry[], now = new Date(), validityMs = 60 * 60 * 1000): Promise<x509.X509Crl> {
    const crlNumber = new CRLNumber(Math.floor(now.getTime() / 1000));
    return x509.X509CrlGenerator.create({
      issuer: this.cert.subjectName,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + validityMs),
      signingAlgorithm: SIGNING_ALGORITHM,
      signingKey: this.#key,
      extensions: [
        new x509.AuthorityKeyIdentifierExtension(this.#keyId),
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(crlNumber)),
      ],
      entries: entries.map((e) => ({
        serialNumber: e.serial,
        revocationDate: e.revokedAt,
        reason: x509.X509CrlReason.unspecified,
      })),
    });
  }
}
