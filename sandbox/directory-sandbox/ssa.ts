/** Software Statement Assertions in the OBIE shape (SPEC §3.1, §3.2), signed PS256 by the directory. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import type { CryptoKey } from './webcrypto.js';

export const DEFAULT_SSA_ISSUER = 'OpenBanking Ltd';
export const SSA_ALG = 'PS256';

export interface SsaSubject {
  issuer: string;
  orgId: string;
  orgName: string;
  orgStatus: string;
  softwareId: string;
  clientName: string;
  /** The example host of the software (`<name>.example.com`). */
  host: string;
  roles: string[];
  redirectUris: string[];
  softwareJwksUrl: string;
  softwareJwksRevokedUrl: string;
  orgJwksUrl: string;
  orgJwksRevokedUrl: string;
}

/**
 * The claims the OB Directory and the Open Finance Brasil directory (built on it) name alike: the
 * token's `iss`/`iat`/`jti`, the `software_*` description and URIs, the organisation.
 */
function obDirectorySoftware(s: SsaSubject, now: Date): JWTPayload {
  const origin = `https://${s.host}`;
  return {
    iss: s.issuer,
    iat: Math.floor(now.getTime() / 1000),
    jti: randomUUID(),
    software_environment: 'sandbox',
    software_mode: 'Test',
    software_id: s.softwareId,
    software_client_id: s.softwareId,
    software_client_name: s.clientName.slice(0, 40),
    software_client_description: `Sandbox software ${s.clientName} of ${s.orgName}`.slice(0, 256),
    software_version: '1.0',
    software_client_uri: `${origin}/`,
    software_redirect_uris: [...s.redirectUris],
    software_logo_uri: `${origin}/logo.png`,
    software_policy_uri: `${origin}/policy`,
    software_tos_uri: `${origin}/tos`,
    org_status: s.orgStatus,
    org_id: s.orgId,
    org_name: s.orgName.slice(0, 140),
  };
}

/** OBIE SSA claims; no `exp` (OBIE defines none). */
export function ssaClaims(s: SsaSubject, now = new Date()): JWTPayload {
  return {
    ...obDirectorySoftware(s, now),
    software_roles: [...s.roles],
    organisation_competent_authority_claims: {
      authority_id: 'FCAGBR',
      registration_id: '123456',
      status: 'Active',
      authorisations: [{ member_state: 'GB', roles: [...s.roles] }],
    },
    org_contacts: [
      { name: 'Business contact', email: `business@${s.host}`, phone: '+440000000001', type: 'Business' },
      { name: 'Technical contact', email: `tech@${s.host}`, phone: '+440000000002', type: 'Technical' },
    ],
    org_jwks_endpoint: s.orgJwksUrl,
    org_jwks_revoked_endpoint: s.orgJwksRevokedUrl,
    software_jwks_endpoint: s.softwareJwksUrl,
    software_jwks_revoked_endpoint: s.softwareJwksRevokedUrl,
  };
}

/**
 * Which directory the sandbox plays (from DCR_PROFILE): the OB Directory (OBIE profiles, fapi2,
 * rfc7591), the CDR Register (`cdr`) or the Open Finance Brasil directory (`openfinance-br`).
 */
export type SandboxEcosystem = 'obie' | 'cdr' | 'openfinance-br';

export function ecosystemOfProfile(profile: string): SandboxEcosystem {
  return profile === 'cdr' || profile === 'openfinance-br' ? profile : 'obie';
}

/** The SSA claims of the ecosystem's directory. */
export function ssaClaimsFor(ecosystem: SandboxEcosystem, s: SsaSubject, now = new Date()): JWTPayload {
  if (ecosystem === 'cdr') return cdrSsaClaims(s, now);
  if (ecosystem === 'openfinance-br') return ofbSsaClaims(s, now);
  return ssaClaims(s, now);
}

/** The CDR Register's SSA (SPEC §3.3): PS256, `exp` = `iat` + 600, RFC 7591 claim names, one role string. */
export const CDR_SANDBOX_SCOPE = 'openid profile bank:accounts.basic:read bank:transactions:read common:customer.basic:read cdr:registration';

export function cdrSsaClaims(s: SsaSubject, now = new Date()): JWTPayload {
  const origin = `https://${s.host}`;
  const iat = Math.floor(now.getTime() / 1000);
  return {
    iss: s.issuer,
    iat,
    exp: iat + 600,
    jti: randomUUID(),
    legal_entity_id: s.orgId,
    legal_entity_name: s.orgName.slice(0, 140),
    org_id: s.orgId,
    org_name: s.orgName.slice(0, 140),
    client_name: s.clientName.slice(0, 40),
    client_description: `Sandbox software product ${s.clientName} of ${s.orgName}`.slice(0, 256),
    client_uri: `${origin}/`,
    redirect_uris: [...s.redirectUris],
    sector_identifier_uri: `${origin}/sector`,
    logo_uri: `${origin}/logo.png`,
    tos_uri: `${origin}/tos`,
    policy_uri: `${origin}/policy`,
    jwks_uri: s.softwareJwksUrl,
    revocation_uri: `${origin}/revocation`,
    recipient_base_uri: origin,
    software_id: s.softwareId,
    software_roles: 'data-recipient-software-product',
    scope: CDR_SANDBOX_SCOPE,
  };
}

/** OBIE role names the CLI defaults to, as Open Finance Brasil roles. */
const OFB_ROLES: Record<string, string> = { AISP: 'DADOS', PISP: 'PAGTO', CBPII: 'DADOS' };

/** The Open Finance Brasil directory's SSA (SPEC §3.3): `software_statement_roles`, `software_api_webhook_uris`. */
export function ofbSsaClaims(s: SsaSubject, now = new Date()): JWTPayload {
  const origin = `https://${s.host}`;
  const roles = [...new Set(s.roles.map((r) => OFB_ROLES[r] ?? r))];
  return {
    ...obDirectorySoftware(s, now),
    software_roles: roles,
    software_statement_roles: roles.map((role) => ({ role, authorisation_domain: 'Open Banking', status: 'Active' })),
    software_api_webhook_uris: [`${origin}/webhook`],
    software_jwks_uri: s.softwareJwksUrl,
    software_jwks_inactive_uri: s.softwareJwksRevokedUrl,
    software_jwks_transport_uri: s.softwareJwksUrl,
    software_jwks_transport_inactive_uri: s.softwareJwksRevokedUrl,
    org_number: '00000000000191',
    organisation_competent_authority_claims: [
      { authority_id: 'BCB', authority_name: 'Banco Central do Brasil', authority_code: 'BCB', registration_id: `${s.orgId}-OFB`, status: 'Active', authorisation_domain: 'Open Banking', authorisations: roles.map((role) => ({ role, status: 'Active' })) },
    ],
    org_jwks_uri: s.orgJwksUrl,
    org_jwks_inactive_uri: s.orgJwksRevokedUrl,
  };
}

/**
 * Merges test overrides into claims: a key whose override value is `undefined` is removed, any
 * other value replaces the claim (shallow).
 */
export function applyOverrides(claims: JWTPayload, overrides: Record<string, unknown> | undefined): JWTPayload {
  if (!overrides) return claims;
  const out: Record<string, unknown> = { ...claims };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out as JWTPayload;
}

/** Signs SSAs with the directory key (imported once). */
export class SsaSigner {
  readonly kid: string;
  readonly #key: CryptoKey;

  constructor(key: CryptoKey, kid: string) {
    this.#key = key;
    this.kid = kid;
  }

  async sign(claims: JWTPayload): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: SSA_ALG, kid: this.kid, typ: 'JWT' }).sign(this.#key);
  }
}
