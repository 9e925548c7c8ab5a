/**
 * Certificate work of the revocation checks (SPEC §9), behind the `CertificateEvidence` port of
 * core/revocation/check.ts (platform/revocation/certificate-evidence.ts): the client CA bundle
 * (trust anchors), chain validation against the client CAs,
 * CRL (RFC 5280) and OCSP (RFC 6960) parsing and verification. ASN.1 goes through @peculiar/x509
 * and @peculiar/asn1-*; signatures are verified with node:crypto.
 */
import 'reflect-metadata'; // must precede '@peculiar/x509' under Node ESM (tsyringe)
import { createHash, verify as verifySignature, X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
} from '@peculiar/asn1-ocsp';

import { BoundedMemo } from '../util/bounded-memo.js';
import { DcrError } from '../../core/errors/dcr-error.js';

x509.cryptoProvider.set(globalThis.crypto);

const ID_SHA1 = '1.3.14.3.2.26';
const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
const ID_KP_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Signature algorithm OIDs accepted on OCSP responses, mapped to node:crypto digests (null: none, EdDSA). */
const SIGNATURE_DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
};

/** The evidence cannot be used (unparsable, wrongly signed, stale): not the TPP's fault, retryable. */
export class EvidenceUnusable extends DcrError {
  readonly code = 'ERR_EVIDENCE_UNUSABLE';
}

/** The certificate itself is unacceptable (positive evidence against the TPP). */
export class CertificateInvalid extends DcrError {
  readonly code = 'ERR_CERTIFICATE_INVALID';
}

export interface ParsedCertificate {
  pem: string;
  der: Buffer;
  node: NodeCertificate;
  peculiar: x509.X509Certificate;
  /** Lower-case hex without leading zero bytes. */
  serial: string;
}

export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/^(00)+/, '');
}

export function parseCertificate(pemOrDer: string | Buffer): ParsedCertificate {
  try {
    const node = new NodeCertificate(pemOrDer);
    const der = node.raw;
    const peculiar = new x509.X509Certificate(new Uint8Array(der));
    return { pem: node.toString(), der, node, peculiar, serial: normaliseSerial(peculiar.serialNumber) };
  } catch (error) {
    throw new CertificateInvalid(`not a parsable X.509 certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The CA bundle the transport certificate must chain to (`rt.trust.clientCaPems`). */
export class TrustAnchors {
  readonly certificates: ParsedCertificate[];
  /** Issuers per leaf (x5t#S256): name match and signature do not change, so each is checked once. */
  readonly #issuers = new BoundedMemo<string, ParsedCertificate[]>(4096);

  constructor(pems: readonly string[]) {
    this.certificates = [];
    for (const pem of pems) {
      try {
        this.certificates.push(parseCertificate(pem));
      } catch {
        // An unparsable bundle entry is skipped; it cannot anchor anything.
      }
    }
  }

  /** Certificates of the bundle that issued `cert` (name match and a valid signature). */
  issuersOf(cert: ParsedCertificate): ParsedCertificate[] {
    return this.#issuers.through(cert.node.fingerprint256, () =>
      this.certificates.filter((ca) => cert.node.checkIssued(ca.node) && cert.node.verify(ca.node.publicKey)),
    );
  }
}

function within(cert: ParsedCertificate, now: Date): boolean {
  return new Date(cert.node.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(cert.node.validTo).getTime();
}

/**
 * Validates the transport certificate's chain to the client CAs: issued (name and signature) by a
 * CA certificate of the bundle, intermediates up to a self-signed root or a bundle entry, every
 * certificate within its validity, issuers marked CA, the leaf usable for TLS client auth.
 * Returns the direct issuer. Throws {@link CertificateInvalid}.
 */
export function validateChain(leaf: ParsedCertificate, anchors: TrustAnchors, now: Date): ParsedCertificate {
  if (!within(leaf, now)) throw new CertificateInvalid(`the transport certificate is not within its validity period (${leaf.node.validFrom} to ${leaf.node.validTo})`);
  const eku = leaf.node.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(ID_KP_CLIENT_AUTH)) {
    throw new CertificateInvalid('the transport certificate is not for TLS client authentication (extendedKeyUsage)');
  }
  const issuer = anchors.issuersOf(leaf).find((ca) => ca.node.ca && within(ca, now));
  if (!issuer) throw new CertificateInvalid(`the transport certificate is not issued by a trusted CA (issuer '${leaf.node.issuer.replace(/\n/g, ', ').slice(0, 200)}')`);
  return issuer;
}

/** The certificate's CRL distribution point URIs. */
export function crlDistributionPoints(cert: ParsedCertificate): string[] {
  const ext = cert.peculiar.getExtension(x509.CRLDistributionPointsExtension);
  if (!ext) return [];
  const urls: string[] = [];
  for (const dp of ext.distributionPoints) {
    for (const name of dp.distributionPoint?.fullName ?? []) {
      if (name.uniformResourceIdentifier) urls.push(name.uniformResourceIdentifier);
    }
  }
  return urls;
}

/** The certificate's AIA OCSP responder URIs. */
export function ocspResponders(cert: ParsedCertificate): string[] {
  const ext = cert.peculiar.getExtension(x509.AuthorityInfoAccessExtension);
  if (!ext) return [];
  return ext.ocsp.filter((n) => n.type === 'url').map((n) => n.value);
}

// ------------------------------------------------------------------ CRL

export interface CrlVerdict {
  revoked: boolean;
  revokedAt?: Date;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

/** A CRL whose issuer and signature were verified, with its revoked serials indexed. */
export interface VerifiedCrl {
  crl: x509.X509Crl;
  /** normalised serial → revocation date */
  revoked: ReadonlyMap<string, Date>;
}

/**
 * Parses a DER (or PEM) CRL and checks it was issued and signed by `issuer`. Pure in its inputs:
 * callers may keep the result for the same bytes and issuer, and check {@link checkCrlCurrent} on
 * each use.
 */
export async function verifyCrlSignature(body: Buffer, issuer: ParsedCertificate): Promise<VerifiedCrl> {
  let crl: x509.X509Crl;
  try {
    const text = body.subarray(0, 32).toString('latin1');
    crl = text.startsWith('-----BEGIN') ? new x509.X509Crl(body.toString('latin1')) : new x509.X509Crl(new Uint8Array(body));
  } catch (error) {
    throw new EvidenceUnusable(`the CRL is not parsable: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (crl.issuer !== issuer.peculiar.subject) throw new EvidenceUnusable(`the CRL is issued by '${crl.issuer.slice(0, 200)}', not by the certificate's issuer`);
  let ok = false;
  try {
    ok = await crl.verify({ publicKey: issuer.peculiar });
  } catch {
    ok = false;
  }
  if (!ok) throw new EvidenceUnusable("the CRL's signature does not verify with the issuing CA's key");
  const revoked = new Map<string, Date>();
  for (const e of crl.entries) revoked.set(normaliseSerial(e.serialNumber), e.revocationDate);
  return { crl, revoked };
}

/** The CRL is current at `now`: thisUpdate not in the future, nextUpdate not passed (with leeway). */
export function checkCrlCurrent(crl: x509.X509Crl, now: Date, leewayMs: number): void {
  if (crl.thisUpdate.getTime() > now.getTime() + leewayMs) throw new EvidenceUnusable(`the CRL's thisUpdate (${crl.thisUpdate.toISOString()}) is in the future`);
  if (crl.nextUpdate && crl.nextUpdate.getTime() + leewayMs < now.getTime()) {
    throw new EvidenceUnusable(`the CRL is stale (nextUpdate ${crl.nextUpdate.toISOString()})`);
  }
}

/** Parses a DER (or PEM) CRL and checks it was issued and signed by `issuer`, and is current. */
export async function verifiedCrl(body: Buffer, issuer: ParsedCertificate, now: Date, leewayMs: number): Promise<VerifiedCrl> {
  const verified = await verifyCrlSignature(body, issuer);
  checkCrlCurrent(verified.crl, now, leewayMs);
  return verified;
}

export function crlVerdict(verified: VerifiedCrl, cert: ParsedCertificate): CrlVerdict {
  const revokedAt = verified.revoked.get(cert.serial);
  return {
    revoked: revokedAt !== undefined,
    ...(revokedAt ? { revokedAt } : {}),
    thisUpdate: verified.crl.thisUpdate,
    nextUpdate: verified.crl.nextUpdate,
  };
}

// ------------------------------------------------------------------ OCSP

function certIdFor(cert: ParsedCertificate, issuer: ParsedCertificate, hashOid = ID_SHA1): CertID {
  const digest = hashOid === ID_SHA256 ? 'sha256' : 'sha1';
  const issuerAsn = AsnConvert.parse(issuer.der, Certificate);
  const leafAsn = AsnConvert.parse(cert.der, Certificate);
  const nameDer = AsnConvert.serialize(leafAsn.tbsCertificate.issuer);
  const keyBits = issuerAsn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey;
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hashOid, parameters: null }),
    issuerNameHash: new OctetString(createHash(digest).update(Buffer.from(nameDer)).digest()),
    issuerKeyHash: new OctetString(createHash(digest).update(Buffer.from(keyBits)).digest()),
    serialNumber: leafAsn.tbsCertificate.serialNumber,
  });
}

/** An RFC 6960 OCSPRequest (DER) for `cert` (SHA-1 CertID, the form every responder understands). */
export function ocspRequestDer(cert: ParsedCertificate, issuer: ParsedCertificate): Buffer {
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certIdFor(cert, issuer) })] }) });
  return Buffer.from(AsnConvert.serialize(request));
}

/** RFC 6960 A.1 GET form: `{url}/{url-encoded base64 of the DER request}`. */
export function ocspGetUrl(responder: string, requestDer: Buffer): string {
  return `${responder.replace(/\/+$/, '')}/${encodeURIComponent(requestDer.toString('base64'))}`;
}

export interface OcspVerdict {
  status: 'good' | 'revoked' | 'unknown';
  revokedAt?: Date;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** End of validity of the delegated responder certificate that signed it (none: the CA signed it). */
  signerValidTo?: Date;
}

function bytesEqual(a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array): boolean {
  return Buffer.from(a instanceof Uint8Array ? a : new Uint8Array(a)).equals(Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)));
}

function signatureValid(basic: BasicOCSPResponse, key: KeyObject): boolean {
  const oid = basic.signatureAlgorithm.algorithm;
  if (!(oid in SIGNATURE_DIGESTS)) return false;
  const tbs = basic.tbsResponseDataRaw ? Buffer.from(basic.tbsResponseDataRaw) : Buffer.from(AsnConvert.serialize(basic.tbsResponseData));
  try {
    return verifySignature(SIGNATURE_DIGESTS[oid] ?? null, tbs, key, Buffer.from(basic.signature));
  } catch {
    return false;
  }
}

/**
 * Parses and verifies an OCSP response for `cert`: successful status, basic response, signed by
 * the issuing CA or by a responder certificate the CA issued for OCSP signing (valid at `now`), a
 * SingleResponse for this very certificate. Pure in the bytes and certificates (apart from the
 * responder certificate's validity, returned as `signerValidTo`): callers may keep the result for
 * the same bytes and check {@link checkOcspCurrent} on each use. Throws {@link EvidenceUnusable}.
 */
export function verifyOcspResponse(body: Buffer, cert: ParsedCertificate, issuer: ParsedCertificate, now: Date): OcspVerdict {
  let basic: BasicOCSPResponse;
  try {
    const response = AsnConvert.parse(body, OCSPResponse);
    if (response.responseStatus !== OCSPResponseStatus.successful) {
      throw new EvidenceUnusable(`the OCSP responder answered ${OCSPResponseStatus[response.responseStatus] ?? String(response.responseStatus)}`);
    }
    if (!response.responseBytes || response.responseBytes.responseType !== id_pkix_ocsp_basic) throw new EvidenceUnusable('the OCSP response is not a basic response');
    basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  } catch (error) {
    if (error instanceof EvidenceUnusable) throw error;
    throw new EvidenceUnusable(`the OCSP response is not parsable: ${error instanceof Error ? error.message : String(error)}`);
  }

  // Signed by the CA itself, or by a delegated responder certificate issued by the CA (RFC 6960 §4.2.2.2).
  let signed = signatureValid(basic, issuer.node.publicKey);
  let signerValidTo: Date | undefined;
  for (const c of basic.certs ?? []) {
    if (signed) break;
    let delegated: ParsedCertificate;
    try {
      delegated = parseCertificate(Buffer.from(AsnConvert.serialize(c)));
    } catch {
      continue;
    }
    const eku = delegated.node.keyUsage;
    if (!delegated.node.checkIssued(issuer.node) || !delegated.node.verify(issuer.node.publicKey)) continue;
    if (!Array.isArray(eku) || !eku.includes(id_kp_OCSPSigning) || !within(delegated, now)) continue;
    signed = signatureValid(basic, delegated.node.publicKey);
    if (signed) signerValidTo = new Date(delegated.node.validTo);
  }
  if (!signed) throw new EvidenceUnusable("the OCSP response's signature does not verify with the issuing CA or a responder it authorised");

  const ours = basic.tbsResponseData.responses.find((r) => {
    const oid = r.certID.hashAlgorithm.algorithm;
    if (oid !== ID_SHA1 && oid !== ID_SHA256) return false;
    const expected = certIdFor(cert, issuer, oid);
    return (
      bytesEqual(r.certID.serialNumber, expected.serialNumber) &&
      bytesEqual(r.certID.issuerKeyHash.buffer, expected.issuerKeyHash.buffer) &&
      bytesEqual(r.certID.issuerNameHash.buffer, expected.issuerNameHash.buffer)
    );
  });
  if (!ours) throw new EvidenceUnusable('the OCSP response does not cover the transport certificate');

  const s = ours.certStatus;
  const status = s.revoked ? 'revoked' : s.good !== undefined ? 'good' : 'unknown';
  return {
    status,
    ...(s.revoked ? { revokedAt: s.revoked.revocationTime } : {}),
    thisUpdate: ours.thisUpdate,
    nextUpdate: ours.nextUpdate,
    ...(signerValidTo ? { signerValidTo } : {}),
  };
}

/**
 * The OCSP answer is current at `now`: thisUpdate not in the future, nextUpdate (or, without one,
 * thisUpdate plus `maxAgeMs`) not passed, the delegated responder certificate still valid.
 */
export function checkOcspCurrent(verdict: OcspVerdict, now: Date, leewayMs: number, maxAgeMs: number): void {
  if (verdict.thisUpdate.getTime() > now.getTime() + leewayMs) throw new EvidenceUnusable(`the OCSP response's thisUpdate (${verdict.thisUpdate.toISOString()}) is in the future`);
  const expires = verdict.nextUpdate ? verdict.nextUpdate.getTime() : verdict.thisUpdate.getTime() + maxAgeMs;
  if (expires + leewayMs < now.getTime()) throw new EvidenceUnusable(`the OCSP response is stale (thisUpdate ${verdict.thisUpdate.toISOString()})`);
  if (verdict.signerValidTo && verdict.signerValidTo.getTime() < now.getTime()) throw new EvidenceUnusable('the OCSP responder certificate has expired');
}

/** {@link verifyOcspResponse} then {@link checkOcspCurrent}. */
export function verifiedOcsp(body: Buffer, cert: ParsedCertificate, issuer: ParsedCertificate, now: Date, leewayMs: number, maxAgeMs: number): OcspVerdict {
  const verdict = verifyOcspResponse(body, cert, issuer, now);
  checkOcspCurrent(verdict, now, leewayMs, maxAgeMs);
  return verdict;
}

/** base64url SHA-1 / SHA-256 thumbprints of a DER certificate (`x5t`, `x5t#S256`). */
export function thumbprints(der: Buffer): { x5t: string; x5tS256: string } {
  return { x5t: createHash('sha1').update(der).digest('base64url'), x5tS256: createHash('sha256').update(der).digest('base64url') };
}
