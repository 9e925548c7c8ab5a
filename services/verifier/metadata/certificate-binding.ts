/**
 * SPEC §7.3 / §4 step 14: the mTLS client certificate belongs to the SSA's organisation/software
 * (`unapproved_software_statement`), and §7.2 / §4 step 17: the registered `tls_client_auth_*`
 * value describes the presented certificate (`invalid_client_metadata`).
 */
import { isIP } from 'node:net';
import { reject } from '../../../shared/domain/errors.js';
import {
  certificateSubjectAltNames,
  dnMatchesCertificate,
  formatDn,
  getAttribute,
  type RdnSequence,
  type SubjectAltNames,
} from '../../../shared/pki/dn.js';
import type { CertificateBindingRule, TlsClientAuthClaim } from '../../../shared/profiles/index.js';
import type { SsaFacts } from './ssa-claims.js';
import type { ClientCertificateInfo, RuleContext } from './types.js';
import { list, show } from './util.js';

function includesId(values: readonly string[], id: string | undefined): boolean {
  return id !== undefined && values.some((v) => v.trim() === id);
}

/** One binding convention applied to a certificate subject. */
export function bindingHolds(rule: CertificateBindingRule, subject: RdnSequence, facts: SsaFacts): boolean {
  switch (rule) {
    case 'ob-legacy':
      // OB legacy transport certificates: OU = org id, CN = software statement id.
      return includesId(getAttribute(subject, 'OU'), facts.orgId) && includesId(getAttribute(subject, 'CN'), facts.softwareId);
    case 'obwac':
      // OBWAC/OBSEAL: CN = OB organisation id (organisation-level binding).
      return includesId(getAttribute(subject, 'CN'), facts.orgId);
    case 'ofb': {
      // OFB: UID = software id and organizationIdentifier = OFBBR-<org id> (or, before 2022-08-31, OU = org id).
      if (!includesId(getAttribute(subject, 'UID'), facts.softwareId) || facts.orgId === undefined) return false;
      const orgIdentifiers = getAttribute(subject, 'organizationIdentifier').map((v) => v.trim());
      return orgIdentifiers.includes(`OFBBR-${facts.orgId}`) || includesId(getAttribute(subject, 'OU'), facts.orgId);
    }
  }
}

const RULE_WORDING: Record<CertificateBindingRule, string> = {
  'ob-legacy': 'OU=org_id and CN=software_id',
  obwac: 'CN=org_id',
  ofb: 'UID=software_id and organizationIdentifier=OFBBR-org_id (or OU=org_id)',
};

/** Step 14. */
export function checkCertificateBinding(ctx: RuleContext, facts: SsaFacts): void {
  const rules = ctx.profile.certificateBinding;
  if (rules.length === 0 || !facts.present) return;
  const cert = ctx.certificate;
  if (!cert) throw reject.unapproved('no client certificate was presented to bind to the software statement');
  if (cert.inSoftwareJwks) return;
  if (rules.some((rule) => bindingHolds(rule, cert.subject, facts))) return;
  throw reject.unapproved(
    `client certificate '${formatDn(cert.subject)}' does not belong to SSA org_id ${show(facts.orgId)} / ` +
      `software_id ${show(facts.softwareId)} (expected ${rules.map((r) => RULE_WORDING[r]).join(', or ')})`,
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
