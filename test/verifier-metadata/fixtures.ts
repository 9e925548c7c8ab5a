/**
 * Fixtures for the metadata-stage tests: a valid OBIE 3.3 registration, helpers to mutate it, and a
 * small X.509 builder (asn1-x509 + node:crypto) for DN tests.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { expect } from 'vitest';
import { RegistrationRejection, type RejectionCode } from '../../core/domain/errors.js';
import { certificateSubject, parseDn, type RdnSequence } from '../../platform/pki/dn.js';
import { getProfile, type Profile, type ProfileName } from '../../core/profiles/index.js';
import type { MetadataInput } from '../../services/verifier/metadata/types.js';

export const NOW = 1_760_000_000;
export const SOFTWARE_ID = '2kiXQyo0tedjW2somjSgH7'; // Base62, 22
export const ORG_ID = '0015800001041RbAAI'; // OB org id, 18
export const AUDIENCE = '0015800001041REAAY';
export const SSA_ISSUER = 'OpenBanking Ltd';
export const SSA_JWKS = 'https://keystore.openbankingtest.org.uk/0015800001041RbAAI/2kiXQyo0tedjW2somjSgH7.jwks';
export const REDIRECTS = ['https://tpp.example.com/callback', 'https://tpp.example.com/other', 'https://app.tpp.example.org/cb'];
/** OB legacy transport certificate subject, RFC 4514 order (= Go's ToRDNSequence().String()). */
export const OB_SUBJECT_DN = `CN=${SOFTWARE_ID},OU=${ORG_ID},O=OpenBanking,C=GB`;
/** A syntactically valid compact JWS stand-in (the signature was verified upstream). */
export const SSA_JWS = 'eyJhbGciOiJQUzI1NiIsImtpZCI6IngifQ.eyJzb2Z0d2FyZV9pZCI6IngifQ.c2ln';

export type Claims = Record<string, unknown>;

export function obieSsa(overrides: Claims = {}): Claims {
  return {
    iss: SSA_ISSUER,
    iat: NOW - 120,
    jti: '4f2d1c52-8ff0-4a0a-9b62-64c1a8b5c0d1',
    software_environment: 'sandbox',
    software_mode: 'Live',
    software_id: SOFTWARE_ID,
    software_client_id: SOFTWARE_ID,
    software_client_name: 'TPP Example App',
    software_client_description: 'An example',
    software_version: '1.0',
    software_client_uri: 'https://tpp.example.com',
    software_redirect_uris: [...REDIRECTS],
    software_roles: ['AISP', 'PISP'],
    organisation_competent_authority_claims: {
      authority_id: 'FCAGBR',
      registration_id: '123456',
      status: 'Active',
      authorisations: [
        { member_state: 'GB', roles: ['AISP', 'PISP'] },
        { member_state: 'IE', roles: ['AISP'] },
      ],
    },
    software_logo_uri: 'https://tpp.example.com/logo.png',
    org_status: 'Active',
    org_id: ORG_ID,
    org_name: 'TPP Example Ltd',
    org_contacts: [{ name: 'Ops', email: 'ops@tpp.example.com', phone: '+440000', type: 'Technical' }],
    org_jwks_endpoint: 'https://keystore.openbankingtest.org.uk/0015800001041RbAAI/0015800001041RbAAI.jwks',
    org_jwks_revoked_endpoint: 'https://keystore.openbankingtest.org.uk/0015800001041RbAAI/revoked/0015800001041RbAAI.jwks',
    software_jwks_endpoint: SSA_JWKS,
    software_jwks_revoked_endpoint: 'https://keystore.openbankingtest.org.uk/0015800001041RbAAI/revoked/2kiXQyo0tedjW2somjSgH7.jwks',
    software_policy_uri: 'https://tpp.example.com/policy',
    software_tos_uri: 'https://tpp.example.com/tos',
    software_on_behalf_of_org: null,
    ...overrides,
  };
}

/** What conformance-dcr sends for OBIE 3.3 with tls_client_auth (SPEC §11.1). */
export function obieClaims(overrides: Claims = {}): Claims {
  return {
    iss: SOFTWARE_ID,
    iat: NOW,
    exp: NOW + 3600,
    aud: AUDIENCE,
    jti: randomUUID(),
    token_endpoint_auth_signing_alg: 'PS256',
    grant_types: ['authorization_code', 'client_credentials'],
    subject_type: 'public',
    application_type: 'web',
    redirect_uris: [REDIRECTS[0]],
    token_endpoint_auth_method: 'tls_client_auth',
    software_statement: SSA_JWS,
    scope: 'accounts openid',
    request_object_signing_alg: 'PS256',
    id_token_signed_response_alg: 'PS256',
    tls_client_auth_subject_dn: OB_SUBJECT_DN,
    ...overrides,
  };
}

/** Removes keys from a claims object (mutation helper). */
export function without(claims: Claims, ...names: string[]): Claims {
  const copy = { ...claims };
  for (const name of names) delete copy[name];
  return copy;
}

export interface InputOptions {
  profile?: ProfileName | Profile;
  claims?: Claims;
  ssa?: Claims | null;
  subject?: RdnSequence | string | null;
  pem?: string;
  policy?: Partial<MetadataInput['policy']>;
  envelope?: 'jws' | 'json';
  update?: MetadataInput['update'];
  inSoftwareJwks?: boolean;
}

export function input(options: InputOptions = {}): MetadataInput {
  const profile = typeof options.profile === 'object' ? options.profile : getProfile(options.profile ?? 'obie-3.3');
  const subject = options.subject === undefined ? OB_SUBJECT_DN : options.subject;
  return {
    profile,
    claims: options.claims ?? obieClaims(),
    ssa: options.ssa === undefined ? obieSsa() : options.ssa,
    certificate:
      subject === null
        ? null
        : {
            subject: typeof subject === 'string' ? parseDn(subject) : subject,
            ...(options.pem !== undefined && { pem: options.pem }),
            ...(options.inSoftwareJwks !== undefined && { inSoftwareJwks: options.inSoftwareJwks }),
          },
    policy: {
      audiences: [AUDIENCE],
      ssaIssuers: [SSA_ISSUER],
      now: NOW,
      ...options.policy,
    },
    ...(options.envelope && { envelope: options.envelope }),
    ...(options.update && { update: options.update }),
  };
}

/** Asserts that `fn` throws a RegistrationRejection with this code (and description match). */
export function expectRejection(fn: () => unknown, code: RejectionCode, description?: string | RegExp): RegistrationRejection {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a RegistrationRejection').toBeInstanceOf(RegistrationRejection);
  const rejection = thrown as RegistrationRejection;
  expect({ error: rejection.error, description: rejection.errorDescription }).toMatchObject({ error: code });
  if (description !== undefined) {
    if (typeof description === 'string') expect(rejection.errorDescription).toContain(description);
    else expect(rejection.errorDescription).toMatch(description);
  }
  return rejection;
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

export type AtvSpec = { type: string; printable?: string; utf8?: string; ia5?: string; der?: Uint8Array };

/** A minimal self-signed ECDSA P-256 certificate with the given subject (ASN.1 order) and SANs. */
export function buildCertificate(
  subject: AtvSpec[][],
  sans: { dns?: string[]; uri?: string[]; ip?: string[]; email?: string[] } = {},
): string {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = new Name(
    subject.map(
      (rdn) =>
        new RelativeDistinguishedName(
          rdn.map((atv) => {
            let value: AttributeValue;
            if (atv.der) value = AsnConvert.parse(atv.der, AttributeValue);
            else if (atv.printable !== undefined) value = new AttributeValue({ printableString: atv.printable });
            else if (atv.ia5 !== undefined) value = new AttributeValue({ ia5String: atv.ia5 });
            else value = new AttributeValue({ utf8String: atv.utf8 ?? '' });
            return new AttributeTypeAndValue({ type: atv.type, value });
          }),
        ),
    ),
  );
  const algorithm = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }); // ecdsa-with-SHA256
  const generalNames = [
    ...(sans.dns ?? []).map((dNSName) => new GeneralName({ dNSName })),
    ...(sans.uri ?? []).map((uniformResourceIdentifier) => new GeneralName({ uniformResourceIdentifier })),
    ...(sans.ip ?? []).map((iPAddress) => new GeneralName({ iPAddress })),
    ...(sans.email ?? []).map((rfc822Name) => new GeneralName({ rfc822Name })),
  ];
  const extensions = generalNames.length
    ? new Extensions([
        new Extension({
          extnID: id_ce_subjectAltName,
          critical: false,
          extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName(generalNames))),
        }),
      ])
    : undefined;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array([0x01, 0x23, 0x45]).buffer,
    signature: algorithm,
    issuer: name,
    validity: new Validity({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') }),
    subject: name,
    subjectPublicKeyInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    ...(extensions && { extensions }),
  });
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbs)), privateKey);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: new Uint8Array(signature).buffer,
  });
  const der = Buffer.from(AsnConvert.serialize(cert));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

/** OB legacy transport certificate subject (ASN.1 order). */
export function obLegacyCertificate(orgId = ORG_ID, softwareId = SOFTWARE_ID): string {
  return buildCertificate([
    [{ type: '2.5.4.6', printable: 'GB' }],
    [{ type: '2.5.4.10', printable: 'OpenBanking' }],
    [{ type: '2.5.4.11', printable: orgId }],
    [{ type: '2.5.4.3', printable: softwareId }],
  ]);
}

export { certificateSubject };
