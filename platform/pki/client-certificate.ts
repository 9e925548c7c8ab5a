import { createHash, X509Certificate } from 'node:crypto';
import type { PresentedCertificate } from '../../core/domain/registration.js';
import type { CertificateBindingRule } from '../../core/profiles/types.js';
import { certificateIssuer, certificateSubject, formatDn, getAttribute, type RdnSequence } from './dn.js';
import { DcrError } from '../../core/errors/dcr-error.js';

/** RFC 5280 §4.2.1.12 `id-kp-clientAuth` and `anyExtendedKeyUsage`. */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/** The certificate cannot stand for a TPP (it names two organisations, its purpose is not client auth). */
export class CertificateRefused extends DcrError {
  readonly code = 'ERR_CERTIFICATE_REFUSED';
}

/** Where a TPP's organisation id is read from in a certificate subject, per binding convention. */
export type OrganisationAttribute = 'OU' | 'CN' | 'organizationIdentifier';

/** The organisation a certificate subject names, and the attribute (and binding rule) it came from. */
export interface CertificateOrganisation {
  attribute: OrganisationAttribute;
  value: string;
  /** The profile's binding rule the attribute belongs to; null when the profile names none. */
  rule: CertificateBindingRule | null;
}

/** OFB `organizationIdentifier = OFBBR-<org id>`. */
const OFB_PREFIX = 'OFBBR-';

function distinct(values: readonly string[]): string[] {
  return [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
}

/** One value, or none; several distinct ones name several organisations. */
function sole(subject: RdnSequence, attribute: OrganisationAttribute, map: (v: string) => string | null = (v) => v): string | null {
  const values = distinct(getAttribute(subject, attribute).map((v) => map(v.trim()) ?? ''));
  if (values.length > 1) throw new CertificateRefused(`the client certificate names more than one organisation (${values.length} distinct ${attribute} values)`);
  return values[0] ?? null;
}

/**
 * The organisation a certificate subject names under the profile's binding conventions: the first
 * rule whose attribute is present decides (OB legacy: `OU`; OBWAC: `CN`; OFB: `organizationIdentifier`
 * `OFBBR-<id>`, else `OU`). Profiles without a binding convention: `OU`, else
 * `organizationIdentifier`. Throws {@link CertificateRefused} when that attribute carries several
 * distinct values, or (OFB) `organizationIdentifier` and `OU` disagree. Null: no organisation named.
 */
export function certificateOrganisation(subject: RdnSequence, rules: readonly CertificateBindingRule[]): CertificateOrganisation | null {
  for (const rule of rules) {
    switch (rule) {
      case 'ob-legacy': {
        const value = sole(subject, 'OU');
        if (value !== null) return { attribute: 'OU', value, rule };
        break;
      }
      case 'obwac': {
        const value = sole(subject, 'CN');
        if (value !== null) return { attribute: 'CN', value, rule };
        break;
      }
      case 'ofb': {
        const fromId = sole(subject, 'organizationIdentifier', (v) => (v.startsWith(OFB_PREFIX) ? v.slice(OFB_PREFIX.length) : null));
        const fromOu = sole(subject, 'OU');
        if (fromId !== null && fromOu !== null && fromId !== fromOu) throw new CertificateRefused('the client certificate names more than one organisation (organizationIdentifier and OU disagree)');
        if (fromId !== null) return { attribute: 'organizationIdentifier', value: fromId, rule };
        if (fromOu !== null) return { attribute: 'OU', value: fromOu, rule };
        break;
      }
    }
  }
  if (rules.length > 0) return null;
  const ou = sole(subject, 'OU');
  if (ou !== null) return { attribute: 'OU', value: ou, rule: null };
  const orgIdentifier = sole(subject, 'organizationIdentifier');
  return orgIdentifier !== null ? { attribute: 'organizationIdentifier', value: orgIdentifier, rule: null } : null;
}

/** base64url SHA-256 of a certificate's SubjectPublicKeyInfo: names the issuing CA in an identity. */
export function caKeyId(ca: X509Certificate): string {
  return createHash('sha256').update(ca.publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
}

/**
 * Identities written before identities were scoped to their CA (`org:<first OU>`, else
 * `org:<organizationIdentifier>`): still found on stored clients and registrations.
 */
export function isLegacyIdentity(identity: string): boolean {
  return identity.startsWith('org:');
}

/** The legacy (unscoped) identity of a certificate, to recognise stored records written with it. */
export function legacyIdentity(pem: string): string | null {
  try {
    const subject = certificateSubject(pem);
    const ou = getAttribute(subject, 'OU')[0];
    const orgIdentifier = getAttribute(subject, 'organizationIdentifier')[0];
    return ou ? `org:${ou}` : orgIdentifier ? `org:${orgIdentifier}` : null;
  } catch {
    return null;
  }
}

export interface IdentityOptions {
  /** The CA that issued the certificate (a client CA); null: unknown, the identity is the certificate itself. */
  issuer: X509Certificate | null;
  /** The profile's certificate binding conventions (`profile.certificateBinding`). */
  rules: readonly CertificateBindingRule[];
}

/**
 * What the pipeline keeps of an mTLS client certificate. `tppIdentity` scopes status polling,
 * management and rate limits to the submitting organisation **as its CA names it**:
 * `ca:<SHA-256 of the issuing CA's public key>/<attribute>=<org id>`, the attribute being the one the
 * profile's binding convention reads (see {@link certificateOrganisation}); without an organisation
 * or a known issuer, `cert:<x5t#S256>` (the certificate alone). Another CA naming the same
 * organisation is another identity. Throws {@link CertificateRefused} for a certificate that names
 * two organisations.
 */
export function describeCertificate(der: Uint8Array, options: IdentityOptions): PresentedCertificate {
  const node = new X509Certificate(der);
  const thumbprint = Buffer.from(node.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  const subject = certificateSubject(der);
  const organisation = certificateOrganisation(subject, options.rules);
  const tppIdentity = organisation && options.issuer ? `ca:${caKeyId(options.issuer)}/${organisation.attribute}=${organisation.value}` : `cert:${thumbprint}`;
  return {
    pem: node.toString(),
    thumbprint,
    subjectDn: formatDn(subject),
    issuerDn: formatDn(certificateIssuer(der)),
    serialNumber: node.serialNumber.toLowerCase(),
    tppIdentity,
  };
}

/** Whether the certificate may authenticate a TLS client: no EKU extension, or one allowing clientAuth. */
export function allowsClientAuth(cert: X509Certificate): boolean {
  // Node names the extended key usage list `keyUsage` (undefined when the extension is absent).
  const eku = cert.keyUsage as string[] | undefined;
  return eku === undefined || eku.includes(CLIENT_AUTH_EKU) || eku.includes(ANY_EKU);
}

/** The client CA (of `anchors`) that issued `cert`: issuer name and signature both check. */
export function issuingCa(cert: X509Certificate, anchors: readonly X509Certificate[]): X509Certificate | null {
  return anchors.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)) ?? null;
}

/**
 * Recognises a TPP across its certificates: the identity of a stored record (registration or client)
 * against the certificate presented now. A stored legacy identity is recomputed from the stored
 * certificate (`storedPem`), so records written before scoping keep working and are matched under
 * today's rules (same CA, same attribute).
 */
export class CertificateIdentities {
  readonly #anchors: X509Certificate[];
  readonly #rules: readonly CertificateBindingRule[];

  constructor(clientCaPems: readonly string[], rules: readonly CertificateBindingRule[]) {
    this.#anchors = clientCaPems.map((pem) => new X509Certificate(pem));
    this.#rules = rules;
  }

  get anchors(): readonly X509Certificate[] {
    return this.#anchors;
  }

  /** Describes a certificate chained to a client CA (the TLS layer or the proxy path checked it). */
  describe(der: Uint8Array, issuer?: X509Certificate | null): PresentedCertificate {
    const node = new X509Certificate(der);
    return describeCertificate(der, { issuer: issuer ?? issuingCa(node, this.#anchors), rules: this.#rules });
  }

  /** The scoped identity of a stored certificate (PEM); null when it can no longer be described. */
  identityOfPem(pem: string): string | null {
    try {
      return this.describe(new X509Certificate(pem).raw).tppIdentity;
    } catch {
      return null;
    }
  }

  /** Whether the stored record's TPP (`stored` identity, `storedPem` its certificate) is the presented one. */
  same(stored: string, storedPem: string | null, presented: PresentedCertificate): boolean {
    if (!isLegacyIdentity(stored)) return stored === presented.tppIdentity;
    if (!storedPem || legacyIdentity(storedPem) !== stored) return false;
    return this.identityOfPem(storedPem) === presented.tppIdentity;
  }
}
