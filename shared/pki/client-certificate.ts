import { X509Certificate } from 'node:crypto';
import type { PresentedCertificate } from '../domain/registration.js';
import { certificateIssuer, certificateSubject, formatDn, getAttribute } from './dn.js';

/**
 * What the pipeline keeps of an mTLS client certificate. `tppIdentity` scopes status polling to the
 * submitting organisation: the OB org id (`OU`), else the eIDAS/OBWAC `organizationIdentifier`,
 * else the certificate itself.
 */
export function describeCertificate(der: Uint8Array): PresentedCertificate {
  const node = new X509Certificate(der);
  const thumbprint = Buffer.from(node.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  const subject = certificateSubject(der);
  const ou = getAttribute(subject, 'OU')[0];
  const orgIdentifier = getAttribute(subject, 'organizationIdentifier')[0];
  const tppIdentity = ou ? `org:${ou}` : orgIdentifier ? `org:${orgIdentifier}` : `cert:${thumbprint}`;
  return {
    pem: node.toString(),
    thumbprint,
    subjectDn: formatDn(subject),
    issuerDn: formatDn(certificateIssuer(der)),
    serialNumber: node.serialNumber.toLowerCase(),
    tppIdentity,
  };
}
