/**
 * The sandbox CA's OCSP responder (RFC 6960): parses an OCSPRequest, answers good / revoked /
 * unknown per certificate from the sandbox state, signed by the CA key itself (no delegated
 * responder). ASN.1 through @peculiar/asn1-ocsp.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Extension } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertStatus,
  KeyHash,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { normaliseSerial, subtle, x509 } from './webcrypto.js';
import type { CryptoKey } from './webcrypto.js';

const ID_SHA1 = '1.3.14.3.2.26';
const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
/** Validity of every answer (nextUpdate - thisUpdate). */
export const OCSP_VALIDITY_MS = 60 * 60 * 1000;
const MAX_REQUESTS = 10;

export type SandboxCertificateStatus = { status: 'good' } | { status: 'revoked'; revokedAt: Date } | { status: 'unknown' };

export interface OcspResponderContext {
  ca: x509.X509Certificate;
  /** The CA's private key (RSASSA-PKCS1-v1_5 SHA-256). */
  key: CryptoKey;
  /** Status of a certificate the CA issued, by lower-case hex serial. */
  status(serial: string): SandboxCertificateStatus;
  now?: Date;
}

/** An unsigned error answer (RFC 6960 §2.3). */
export function ocspErrorResponse(status: OCSPResponseStatus): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

function digestName(oid: string): 'sha1' | 'sha256' | null {
  return oid === ID_SHA1 ? 'sha1' : oid === ID_SHA256 ? 'sha256' : null;
}

/**
 * The DER OCSPResponse answering the DER OCSPRequest: `malformedRequest` when it does not parse,
 * otherwise a successful basic response with one SingleResponse per request (a CertID naming
 * another issuer, or an unsupported hash, is `unknown`), the request nonce echoed.
 */
export async function createOcspResponse(requestDer: Uint8Array, ctx: OcspResponderContext): Promise<Uint8Array> {
  let request: OCSPRequest;
  try {
    request = AsnConvert.parse(requestDer, OCSPRequest);
  } catch {
    return ocspErrorResponse(OCSPResponseStatus.malformedRequest);
  }
  const list = request.tbsRequest.requestList;
  if (list.length === 0 || list.length > MAX_REQUESTS) return ocspErrorResponse(OCSPResponseStatus.malformedRequest);

  const now = ctx.now ?? new Date();
  const caAsn = AsnConvert.parse(ctx.ca.rawData, Certificate);
  const nameDer = Buffer.from(AsnConvert.serialize(caAsn.tbsCertificate.subject));
  const keyBits = Buffer.from(caAsn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);

  const responses = list.map((r) => {
    const id = r.reqCert;
    const digest = digestName(id.hashAlgorithm.algorithm);
    const ours =
      digest !== null &&
      createHash(digest).update(nameDer).digest().equals(Buffer.from(id.issuerNameHash.buffer)) &&
      createHash(digest).update(keyBits).digest().equals(Buffer.from(id.issuerKeyHash.buffer));
    const answer: SandboxCertificateStatus = ours ? ctx.status(normaliseSerial(Buffer.from(id.serialNumber).toString('hex'))) : { status: 'unknown' };
    const certStatus =
      answer.status === 'good'
        ? new CertStatus({ good: null })
        : answer.status === 'revoked'
          ? new CertStatus({ revoked: new RevokedInfo({ revocationTime: answer.revokedAt }) })
          : new CertStatus({ unknown: null });
    return new SingleResponse({ certID: id, certStatus, thisUpdate: now, nextUpdate: new Date(now.getTime() + OCSP_VALIDITY_MS) });
  });

  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  const data = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(createHash('sha1').update(keyBits).digest()) }),
    producedAt: now,
    responses,
    ...(nonce ? { responseExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue })] } : {}),
  });
  const tbs = AsnConvert.serialize(data);
  const signature = await subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, ctx.key, tbs);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: null }),
    signature,
  });
  const response = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
  });
  return new Uint8Array(AsnConvert.serialize(response));
}
