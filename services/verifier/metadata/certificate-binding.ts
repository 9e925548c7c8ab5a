/**
 * SPEC §7.3 / §4 step 14: the mTLS client certificate belongs to the SSA's organisation/software
 * (`unapproved_software_statement`), and §7.2 / §4 step 17: the registered `tls_client_auth_*`
 * value describes the presented certificate (`invalid_client_metadata`).
 */
import { isIP } from 'node:net';
import { reject } from '../../../core/domain/errors.js';
import {
  certificateSubjectAltNames,
  dnMatchesCertificate,
  formatDn,
  getAttribute,
  type RdnSequence,
  type SubjectAltNames,
} from '../../../platform/pki/dn.js';
import { CertificateRefused, certificateOrganisation, type CertificateOrganisation } from '../../../platform/pki/client-certificate.js';
import type { CertificateBindingRule, TlsClientAuthClaim } from '../../../core/profiles/index.js';
import type { SsaFacts } from './ssa-claims.js';
import type { ClientCertificateInfo, RuleContext } from './types.js';
import { list, show } from './util.js';

/** The attribute names exactly `id` (one distinct value): several values name several parties. */
function solelyNames(values: readonly string[], id: string | undefined): boolean {
  const distinct = new Set(values.map((v) => v.trim()));
  return id !== undefined && distinct.size === 1 && distinct.has(id);
}

/** One binding convention applied to a certificate subject. */
export function bindingHolds(rule: CertificateBindingRule, subject: RdnSequence, facts: SsaFacts): boolean {
  switch (rule) {
    case 'ob-legacy':
      // OB legacy transport certificates: OU = org id, CN = software statement id.
      return solelyNames(getAttribute(subject, 'OU'), facts.orgId) && solelyNames(getAttribute(subject, 'CN'), facts.softwareId);
    case 'obwac':
      // OBWAC/OBSEAL: CN = OB organisation id (organisation-level binding).
      return solelyNames(getAttribute(subject, 'CN'), facts.orgId);
    case 'ofb': {
      // OFB: UID = software id and organizationIdentifier = OFBBR-<org id> (or, before 2022-08-31, OU = org id).
      if (!solelyNames(getAttribute(subject, 'UID'), facts.softwareId) || facts.orgId === undefined) return false;
      const organisation = certificateOrganisation(subject, ['ofb']);
      return organisation?.value === facts.orgId;
    }
  }
}

const RULE_WORDING: Record<CertificateBindingRule, string> = {
  'ob-legacy': 'OU=org_id and CN=software_id',
  obwac: 'CN=org_id',
  ofb: 'UID=software_id and organizationIdentifier=OFBBR-org_id (or OU=org_id)',
};

/**
 * Step 14. The convention that applies is the one the TPP identity is read with
 * (platform/pki/client-certificate.ts `certificateOrganisation`: the first of the profile's rules whose
 * attribute the subject carries), so the organisation a client is registered under is the one its
 * certificate names to management and polling. A certificate naming two organisations is refused;
 * a certificate whose key is in the software JWKS binds without the subject convention (SPEC §7.3
 * alternative binding), but an organisation it names must still be the SSA's (that organisation is
 * the identity later calls are authorised with).
 */
export function checkCertificateBinding(ctx: RuleContext, facts: SsaFacts): void {
  const rules = ctx.profile.certificateBinding;
  if (rules.length === 0 || !facts.present) return;
  const cert = ctx.certificate;
  if (!cert) throw reject.unapproved('no client certificate was presented to bind to the software statement');
  let organisation: CertificateOrganisation | null;
  try {
    organisation = certificateOrganisation(cert.subject, rules);
  } catch (error) {
    if (error instanceof CertificateRefused) throw reject.unapproved(error.message);
    throw error;
  }
  if (organisation && organisation.value !== facts.orgId) {
    throw reject.unapproved(
      `client certificate '${formatDn(cert.subject)}' names organisation ${show(organisation.value)} (${organisation.attribute}), not SSA org_id ${show(facts.orgId)}`,
    );
  }
  if (cert.inSoftwareJwks) return;
  if (organisation?.rule && bindingHolds(organisation.rule, cert.subject, facts)) return;
  throw reject.unapproved(
    `client certificate '${formatDn(cert.subject)}' does not belong to SSA org_id ${show(facts.orgId)} / ` +
      `software_id ${show(facts.softwareId)} (expected ${(organisation?.rule ? [organisation.rule] : rules).map((r) => RULE_WORDING[r]).join(', or ')})`,
  );
}

function sans(cert: ClientCertificateInfo): SubjectAltNames | null {
  if (cert.subjectAltNames) return cert.subjectAltNames;
  if (!cert.pem) return null;
  try {
    return certificateSubjectAltNames(cert.pem);
  } catch {
    return null;
  }
}

function normaliseIp(value: string): string {
  const v = value.trim().replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(v) === 6) {
    try {
      return new URL(`https://[${v}]/`).hostname;
    } catch {
      return v;
    }
  }
  return v;
}

/** Step 17: the registered certificate identity matches the certificate presented now. */
export function checkTlsClientAuthIdentity(
  ctx: RuleContext,
  auth: { readonly token_endpoint_auth_method: string } & Partial<Record<TlsClientAuthClaim, string>>,
): void {
  if (auth.token_endpoint_auth_method !== 'tls_client_auth') return;
  const cert = ctx.certificate;
  const dn = auth.tls_client_auth_subject_dn;
  const name = dn !== undefined ? 'tls_client_auth_subject_dn' : 'tls_client_auth_san_*';
  if (!cert) throw reject.metadata(`${name}: no client certificate was presented to check it against`);

  if (dn !== undefined) {
    if (!dnMatchesCertificate(dn, cert.subject)) {
      throw reject.metadata(
        `tls_client_auth_subject_dn: ${show(dn)} does not match the client certificate subject '${formatDn(cert.subject)}'`,
      );
    }
    return;
  }
  const names = sans(cert);
  if (!names) throw reject.metadata('tls_client_auth_san_*: the client certificate subject alternative names are not available');
  const checks: [TlsClientAuthClaim, readonly string[], (v: string) => string][] = [
    ['tls_client_auth_san_dns', names.dns, (v) => v.trim().toLowerCase().replace(/\.$/, '')],
    ['tls_client_auth_san_uri', names.uri, (v) => v.trim()],
    ['tls_client_auth_san_ip', names.ip, normaliseIp],
    ['tls_client_auth_san_email', names.email, (v) => v.trim().toLowerCase()],
  ];
  for (const [claimName, values, norm] of checks) {
    const registered = auth[claimName];
    if (registered === undefined) continue;
    if (!values.map(norm).includes(norm(registered))) {
      throw reject.metadata(
        `${claimName}: ${show(registered)} is not among the client certificate's names (${list(values.map((v) => show(v)))})`,
      );
    }
  }
}
