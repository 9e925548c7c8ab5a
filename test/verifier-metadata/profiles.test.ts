import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  PROFILES,
  PROFILE_NAMES,
  discoveryMetadata,
  envelopeForContentType,
  getProfile,
  mediaType,
} from '../../core/profiles/index.js';
import { validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import {
  NOW,
  OB_SUBJECT_DN,
  ORG_ID,
  REDIRECTS,
  SOFTWARE_ID,
  SSA_JWKS,
  buildCertificate,
  expectRejection,
  input,
  obieClaims,
  obieSsa,
  without,
} from './fixtures.js';
import { certificateSubject, OID } from '../../platform/pki/dn.js';

describe('profile tables', () => {
  it('has one table per profile name, looked up by getProfile', () => {
    expect(Object.keys(PROFILES).sort()).toEqual([...PROFILE_NAMES].sort());
    for (const name of PROFILE_NAMES) expect(getProfile(name).name).toBe(name);
    expect(() => getProfile('obie-9')).toThrow(/unknown profile/);
  });

  it.each(PROFILE_NAMES)('%s is internally consistent', (name) => {
    const p = getProfile(name);
    for (const alg of [...p.algorithms.request, ...p.algorithms.ssa, ...p.algorithms.metadata]) {
      expect(alg).not.toMatch(/^(none|HS|RS)/);
    }
    expect(p.algorithms.metadata[0]).toBe('PS256'); // conformance-dcr uses the first advertised value
    expect(p.body.contentTypes[0]).toBeDefined();
    for (const ct of p.body.contentTypes) expect(p.body.envelopes[ct]).toBeDefined();
    for (const g of p.grants.defaultGrantTypes ?? []) expect(p.grants.grantTypes).toContain(g);
    for (const r of p.grants.defaultResponseTypes) expect(p.grants.responseTypes).toContain(r);
    if (p.grants.defaultApplicationType) expect(p.grants.applicationTypes).toContain(p.grants.defaultApplicationType);
    if (p.clientAuth.defaultMethod) expect(p.clientAuth.methods).toContain(p.clientAuth.defaultMethod);
    // implicit only where the profile pairs it with a response type (openfinance-br: code id_token).
    if (p.grants.grantTypes.includes('implicit')) expect(p.grants.responseTypes).toContain(p.grants.implicitRequiresResponseType);
    expect(p.grants.responseTypes).not.toContain('token');
    expect(p.time.maxLifetimeSeconds).toBeGreaterThanOrEqual(3600);
    expect(p.time.leewaySeconds).toBeLessThanOrEqual(60);
    expect(p.time.futureIatAcceptSeconds).toBe(10);
    expect(p.time.futureIatRejectSeconds).toBe(60);
    expect(() => JSON.stringify(p)).not.toThrow(); // plain data
  });

  it('maps content types to envelopes (parameters ignored)', () => {
    expect(mediaType('application/JOSE; charset=utf-8')).toBe('application/jose');
    expect(envelopeForContentType(getProfile('obie-3.3'), 'application/jose')).toBe('jws');
    expect(envelopeForContentType(getProfile('obie-3.3'), 'application/jwt; x=y')).toBe('jws');
    expect(envelopeForContentType(getProfile('obie-3.3'), 'application/json')).toBeNull();
    expect(envelopeForContentType(getProfile('openfinance-br'), 'application/json')).toBe('json');
    expect(envelopeForContentType(getProfile('openfinance-br'), 'application/jwt')).toBeNull();
    expect(envelopeForContentType(getProfile('rfc7591'), 'application/json')).toBe('json');
    expect(envelopeForContentType(getProfile('rfc7591'), 'application/jose')).toBe('jws');
  });

  it('derives discovery from the same table', () => {
    const obie = discoveryMetadata(getProfile('obie-3.3'));
    expect(obie.request_object_signing_alg_values_supported[0]).toBe('PS256');
    expect(obie.token_endpoint_auth_signing_alg_values_supported).toContain('PS256');
    expect(obie.response_types_supported).toEqual(['code', 'code id_token']);
    expect(obie.grant_types_supported).toContain('urn:openid:params:grant-type:ciba');
    expect(obie.scopes_supported).toEqual(['openid', 'accounts', 'payments', 'fundsconfirmations']);
    expect(obie.backchannel_token_delivery_modes_supported).toEqual(['poll', 'ping']);
    expect(obie.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(discoveryMetadata(getProfile('obie-3.2')).backchannel_token_delivery_modes_supported).toBeUndefined();
    expect(discoveryMetadata(getProfile('fapi2')).id_token_signing_alg_values_supported).toContain('EdDSA');
    expect(discoveryMetadata(getProfile('fapi2')).response_types_supported).toEqual(['code']);
    expect(discoveryMetadata(getProfile('cdr')).token_endpoint_auth_methods_supported).toEqual(['private_key_jwt']);
    expect(discoveryMetadata(getProfile('openfinance-br')).scopes_supported).toContain('credit-cards-accounts');
  });
});

// ---------------------------------------------------------------------------------------------

describe('obie-3.1', () => {
  const claims31 = (overrides: Record<string, unknown> = {}) =>
    without(obieClaims({ scope: ['accounts', 'openid'], tls_client_auth_dn: OB_SUBJECT_DN, iss: 'ShortSoftware01', ...overrides }), 'tls_client_auth_subject_dn');
  const ssa31 = () => obieSsa({ software_id: 'ShortSoftware01' });
  const subject31 = `CN=ShortSoftware01,OU=${ORG_ID},O=OpenBanking,C=GB`;
  const in31 = (claims: Record<string, unknown>) =>
    input({ profile: 'obie-3.1', claims: { ...claims, tls_client_auth_dn: claims.tls_client_auth_dn === OB_SUBJECT_DN ? subject31 : claims.tls_client_auth_dn }, ssa: ssa31(), subject: subject31 });

  it('accepts scope as an array and stores tls_client_auth_dn as tls_client_auth_subject_dn', () => {
    const metadata = validateRegistrationMetadata(in31(claims31()));
    expect(metadata.scope).toBe('accounts openid');
    expect(metadata.tls_client_auth_subject_dn).toBe(subject31);
    expect(metadata).not.toHaveProperty('tls_client_auth_dn');
  });
  it('tolerates a space-separated scope and an omitted scope (role set)', () => {
    expect(validateRegistrationMetadata(in31(claims31({ scope: 'accounts' }))).scope).toBe('accounts');
    expect(validateRegistrationMetadata(in31(without(claims31(), 'scope'))).scope).toBe('openid accounts payments');
  });
  it('accepts the 3.2 DN name too, refuses two different DNs', () => {
    const withNew = without({ ...claims31(), tls_client_auth_subject_dn: subject31 }, 'tls_client_auth_dn');
    expect(validateRegistrationMetadata(input({ profile: 'obie-3.1', claims: withNew, ssa: ssa31(), subject: subject31 })).tls_client_auth_subject_dn).toBe(subject31);
    expectRejection(
      () =>
        validateRegistrationMetadata(
          input({ profile: 'obie-3.1', claims: { ...claims31(), tls_client_auth_dn: subject31, tls_client_auth_subject_dn: 'CN=x' }, ssa: ssa31(), subject: subject31 }),
        ),
      'invalid_client_metadata',
      'tls_client_auth_dn',
    );
  });
  it('limits iss/software_id to Base62 18', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ profile: 'obie-3.1', claims: obieClaims({ scope: ['accounts'] }), subject: OB_SUBJECT_DN })),
      'invalid_software_statement',
      '1 to 18',
    );
    expectRejection(() => validateRegistrationMetadata(in31(claims31({ iss: 'A'.repeat(19) }))), 'invalid_client_metadata', 'iss');
  });
  it('rejects a scope array with a role it does not have', () => {
    expectRejection(() => validateRegistrationMetadata(in31(claims31({ scope: ['fundsconfirmations'] }))), 'invalid_client_metadata', 'fundsconfirmations');
  });
});

// ---------------------------------------------------------------------------------------------

describe('cdr', () => {
  const SW = 'c6327f87-687a-4369-99a4-eaacd3bb8210';
  const DH = 'https://dataholder.example.com.au';
  const cdrSsa = (o: Record<string, unknown> = {}) => ({
    iss: 'cdr-register',
    iat: NOW - 60,
    exp: NOW + 540,
    jti: randomUUID(),
    legal_entity_id: '3B0B0A7B-3E7B-4A2C-9497-E357A71D07C7',
    legal_entity_name: 'Mock Company Inc.',
    org_id: '20C0864B-CEEF-4DE0-8944-EB0962F825EB',
    org_name: 'Mock Finance Tools',
    client_name: 'Mock Software',
    client_description: 'A mock software product',
    client_uri: 'https://www.mockcompany.com.au',
    redirect_uris: ['https://www.mockcompany.com.au/redirects/redirect1', 'https://www.mockcompany.com.au/redirects/redirect2'],
    logo_uri: 'https://www.mockcompany.com.au/logos/logo1.png',
    tos_uri: 'https://www.mockcompany.com.au/tos.html',
    policy_uri: 'https://www.mockcompany.com.au/policy.html',
    jwks_uri: 'https://www.mockcompany.com.au/jwks',
    revocation_uri: 'https://www.mockcompany.com.au/revocation',
    recipient_base_uri: 'https://www.mockcompany.com.au',
    software_id: SW,
    software_roles: 'data-recipient-software-product',
    scope: 'openid profile bank:accounts.basic:read bank:transactions:read common:customer.basic:read cdr:registration',
    ...o,
  });
  const cdrClaims = (o: Record<string, unknown> = {}) => ({
    iss: SW,
    iat: NOW,
    exp: NOW + 300,
    jti: randomUUID(),
    aud: DH,
    redirect_uris: ['https://www.mockcompany.com.au/redirects/redirect1'],
    token_endpoint_auth_signing_alg: 'PS256',
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code id_token'],
    application_type: 'web',
    id_token_signed_response_alg: 'PS256',
    id_token_encrypted_response_alg: 'RSA-OAEP',
    id_token_encrypted_response_enc: 'A256GCM',
    request_object_signing_alg: 'PS256',
    scope: 'openid bank:accounts.basic:read cdr:registration',
    software_statement: 'a.b.c',
    ...o,
  });
  const cdrInput = (claims: Record<string, unknown> = cdrClaims(), ssa: Record<string, unknown> | null = cdrSsa()) =>
    input({ profile: 'cdr', claims, ssa, subject: 'CN=mock,O=Mock,C=AU', policy: { audiences: [DH], ssaIssuers: ['cdr-register'] } });

  it('accepts a CDR registration', () => {
    const m = validateRegistrationMetadata(cdrInput());
    expect(m).toMatchObject({
      software_id: SW,
      software_roles: 'data-recipient-software-product', // as the Register issued it (a string)
      jwks_uri: 'https://www.mockcompany.com.au/jwks',
      scope: 'openid bank:accounts.basic:read cdr:registration',
      client_name: 'Mock Software',
      id_token_encrypted_response_alg: 'RSA-OAEP',
    });
  });
  it('iss must be the software product id; aud the data holder', () => {
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ iss: 'someone' }))), 'invalid_client_metadata', 'iss');
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ aud: 'https://other.example' }))), 'invalid_client_metadata', 'aud');
  });
  it('the SSA needs an unexpired exp and the cdr-register issuer', () => {
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims(), without(cdrSsa(), 'exp'))), 'invalid_software_statement', 'exp');
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims(), cdrSsa({ iat: NOW - 700, exp: NOW - 100 }))), 'invalid_software_statement', 'expired');
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims(), cdrSsa({ iss: 'OpenBanking Ltd' }))), 'unapproved_software_statement');
  });
  it('scope is a subset of the SSA scope; omitted means the SSA scope', () => {
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ scope: 'openid bank:payees:read' }))), 'invalid_client_metadata', 'software statement scope');
    expect(validateRegistrationMetadata(cdrInput(without(cdrClaims(), 'scope'))).scope).toBe(cdrSsa().scope);
  });
  it('redirect_uris omitted means every SSA redirect URI', () => {
    expect(validateRegistrationMetadata(cdrInput(without(cdrClaims(), 'redirect_uris'))).redirect_uris).toEqual(cdrSsa().redirect_uris);
  });
  it('private_key_jwt only; id token encryption required with code id_token', () => {
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ token_endpoint_auth_method: 'tls_client_auth' }))), 'invalid_client_metadata', 'token_endpoint_auth_method');
    expectRejection(() => validateRegistrationMetadata(cdrInput(without(cdrClaims(), 'id_token_encrypted_response_alg', 'id_token_encrypted_response_enc'))), 'invalid_client_metadata', 'id_token_encrypted_response_alg');
    expect(() =>
      validateRegistrationMetadata(
        cdrInput(without(cdrClaims({ response_types: ['code'], authorization_signed_response_alg: 'PS256' }), 'id_token_encrypted_response_alg', 'id_token_encrypted_response_enc')),
      ),
    ).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ id_token_encrypted_response_alg: 'RSA1_5' }))), 'invalid_client_metadata', 'RSA1_5');
  });
  it('response type code needs authorization_signed_response_alg (JARM), from the allow-list', () => {
    expectRejection(() => validateRegistrationMetadata(cdrInput(cdrClaims({ response_types: ['code'] }))), 'invalid_client_metadata', 'authorization_signed_response_alg');
    expectRejection(
      () => validateRegistrationMetadata(cdrInput(cdrClaims({ response_types: ['code'], authorization_signed_response_alg: 'RS256' }))),
      'invalid_client_metadata',
      'RS256',
    );
    const m = validateRegistrationMetadata(cdrInput(cdrClaims({ response_types: ['code'], authorization_signed_response_alg: 'ES256' })));
    expect(m.authorization_signed_response_alg).toBe('ES256');
    // Not required with the hybrid flow.
    expect(validateRegistrationMetadata(cdrInput()).authorization_signed_response_alg).toBeUndefined();
  });
  it('request_object_signing_alg is optional: absent ⇒ PS256 registered and returned', () => {
    expect(validateRegistrationMetadata(cdrInput(without(cdrClaims(), 'request_object_signing_alg'))).request_object_signing_alg).toBe('PS256');
    expect(validateRegistrationMetadata(cdrInput(cdrClaims({ request_object_signing_alg: 'ES256' }))).request_object_signing_alg).toBe('ES256');
  });
});

// ---------------------------------------------------------------------------------------------

describe('openfinance-br', () => {
  const SW = 'a8a8e9d2-3b1d-4f4e-9b8a-0d5c9b3e1f21';
  const ORG = 'b961c4eb-509d-4edf-afeb-35642b38185d';
  const JWKS = `https://keystore.sandbox.directory.openbankingbrasil.org.br/${ORG}/${SW}/application.jwks`;
  const ISS = 'Open Banking Open Banking Brasil prod SSA issuer';
  const ofbSsa = (o: Record<string, unknown> = {}) => ({
    iss: ISS,
    iat: NOW - 60,
    jti: randomUUID(),
    software_id: SW,
    software_client_name: 'OFB TPP',
    software_redirect_uris: ['https://tpp.example.com.br/cb'],
    software_jwks_uri: JWKS,
    software_jwks_inactive_uri: `${JWKS}.inactive`,
    software_roles: ['DADOS', 'PAGTO'],
    software_statement_roles: [
      { role: 'DADOS', authorisation_domain: 'Open Banking', status: 'Active' },
      { role: 'PAGTO', authorisation_domain: 'Open Banking', status: 'Inactive' },
    ],
    org_id: ORG,
    org_status: 'Active',
    organisation_competent_authority_claims: [{ authority_id: 'x', status: 'Active' }],
    ...o,
  });
  const ofbBody = (o: Record<string, unknown> = {}) => ({
    software_statement: 'a.b.c',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'PS256',
    grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
    response_types: ['code id_token'],
    redirect_uris: ['https://tpp.example.com.br/cb'],
    jwks_uri: JWKS,
    ...o,
  });
  const SUBJECT = `CN=tpp.example.com.br,UID=${SW},2.5.4.97=OFBBR-${ORG},O=TPP SA,C=BR`;
  const ofbInput = (body: Record<string, unknown> = ofbBody(), ssa: Record<string, unknown> = ofbSsa(), subject: string | null = SUBJECT) =>
    input({ profile: 'openfinance-br', claims: body, ssa, subject, policy: { ssaIssuers: [ISS], audiences: ['https://as.bank.com.br'] } });

  it('accepts a JSON registration (no request JWT claims) with defaults', () => {
    const m = validateRegistrationMetadata(ofbInput());
    expect(m).toMatchObject({
      jwks_uri: JWKS,
      software_roles: ['DADOS'],
      application_type: 'web',
      id_token_signed_response_alg: 'PS256',
      request_object_signing_alg: 'PS256',
      client_name: 'OFB TPP',
    });
  });
  it('scope omitted ⇒ the Active roles’ set; inactive roles grant nothing', () => {
    expect(validateRegistrationMetadata(ofbInput()).scope).toBe(
      'openid accounts credit-cards-accounts consents customers invoice-financings financings loans unarranged-accounts-overdraft resources ' +
        'bank-fixed-incomes credit-fixed-incomes variable-incomes treasure-titles funds exchanges credit-portability',
    );
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ scope: 'openid payments' }))), 'invalid_client_metadata', "'payments'");
    expect(validateRegistrationMetadata(ofbInput(ofbBody({ scope: 'openid consents' }))).scope).toBe('openid consents');
  });
  it('jwks_uri must equal the SSA software_jwks_uri; jwks is forbidden', () => {
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ jwks_uri: 'https://tpp.example.com.br/jwks' }))), 'invalid_client_metadata', 'software_jwks_uri');
    expect(validateRegistrationMetadata(ofbInput(without(ofbBody(), 'jwks_uri'))).jwks_uri).toBe(JWKS);
    expectRejection(() => validateRegistrationMetadata(ofbInput(without(ofbBody({ jwks: { keys: [{ kty: 'RSA' }] } }), 'jwks_uri'))), 'invalid_client_metadata', 'jwks');
  });
  it('SSA iat at most 5 minutes old', () => {
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa({ iat: NOW - 400 }))), 'invalid_software_statement', 'too old');
    expect(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa({ iat: NOW - 300 })))).not.toThrow();
  });
  it('binds the certificate by UID and organizationIdentifier (or legacy OU)', () => {
    expect(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa(), `CN=x,UID=${SW},OU=${ORG},O=TPP SA,C=BR`))).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa(), `CN=x,UID=other,2.5.4.97=OFBBR-${ORG},C=BR`)), 'unapproved_software_statement', 'UID=software_id');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa(), `CN=x,UID=${SW},2.5.4.97=OFBBR-other,C=BR`)), 'unapproved_software_statement');
  });
  it('binds a real ICP-Brasil-like certificate', () => {
    const pem = buildCertificate([
      [{ type: OID.C, printable: 'BR' }],
      [{ type: OID.O, utf8: 'TPP SA' }],
      [{ type: OID.ORGANIZATION_IDENTIFIER, utf8: `OFBBR-${ORG}` }],
      [{ type: OID.UID, utf8: SW }],
      [{ type: OID.CN, utf8: 'tpp.example.com.br' }],
    ]);
    const dn = `CN=tpp.example.com.br,UID=${SW},organizationIdentifier=OFBBR-${ORG},O=TPP SA,C=BR`;
    const m = validateRegistrationMetadata({
      ...ofbInput(ofbBody({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: dn })),
      certificate: { subject: certificateSubject(pem), pem },
    });
    expect(m.tls_client_auth_subject_dn).toBe(dn);
  });
  it('the 2023 scope table: PAGTO adds recurring-payments and nrp-consents; DADOS the investment, exchange and portability scopes', () => {
    const pagto = ofbSsa({ software_statement_roles: [{ role: 'PAGTO', authorisation_domain: 'Open Banking', status: 'Active' }] });
    expect(validateRegistrationMetadata(ofbInput(ofbBody({ scope: 'openid payments recurring-payments nrp-consents' }), pagto)).scope).toBe('openid payments recurring-payments nrp-consents');
    expect(validateRegistrationMetadata(ofbInput(ofbBody({ scope: 'openid funds exchanges credit-portability' }))).scope).toBe('openid funds exchanges credit-portability');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ scope: 'openid recurring-payments' }))), 'invalid_client_metadata', "'recurring-payments'");
  });
  it('redirect_uris is required', () => {
    expectRejection(() => validateRegistrationMetadata(ofbInput(without(ofbBody(), 'redirect_uris'))), 'invalid_redirect_uri');
  });
  it('implicit is accepted with code id_token only', () => {
    const m = validateRegistrationMetadata(ofbInput(ofbBody({ grant_types: ['authorization_code', 'implicit', 'client_credentials', 'refresh_token'] })));
    expect(m.grant_types).toContain('implicit');
    expectRejection(
      () => validateRegistrationMetadata(ofbInput(ofbBody({ grant_types: ['authorization_code', 'implicit'], response_types: ['code'] }))),
      'invalid_client_metadata',
      "'implicit' requires the response type 'code id_token'",
    );
  });
  it('webhook_uris: each in the SSA software_api_webhook_uris (else invalid_webhook_uris), registered; absent ⇒ none', () => {
    const ssa = ofbSsa({ software_api_webhook_uris: ['https://tpp.example.com.br/webhook', 'https://hooks.tpp.example.com.br'] });
    const m = validateRegistrationMetadata(ofbInput(ofbBody({ webhook_uris: ['https://tpp.example.com.br/webhook'] }), ssa));
    expect(m.webhook_uris).toEqual(['https://tpp.example.com.br/webhook']);
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ webhook_uris: ['https://evil.example.com/hook'] }), ssa)), 'invalid_webhook_uris', 'software_api_webhook_uris');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ webhook_uris: ['https://tpp.example.com.br/webhook'] }))), 'invalid_webhook_uris');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ webhook_uris: 'https://tpp.example.com.br/webhook' }), ssa)), 'invalid_webhook_uris', 'array');
    expect(validateRegistrationMetadata(ofbInput(ofbBody(), ssa)).webhook_uris).toBeUndefined();
  });
  it('PS256 only; org must be Active', () => {
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody({ id_token_signed_response_alg: 'ES256' }))), 'invalid_client_metadata', 'ES256');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa({ org_status: 'Inactive' }))), 'unapproved_software_statement', "SSA org_status is 'Inactive', not Active");
  });
  it('at least one Active software_statement_roles entry (judged here only, not again by the revocation stage)', () => {
    const inactive = ofbSsa({ software_statement_roles: [{ role: 'DADOS', authorisation_domain: 'Open Banking', status: 'Inactive' }] });
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), inactive)), 'unapproved_software_statement', 'SSA software_statement_roles: the software has no active role in the directory');
    expectRejection(() => validateRegistrationMetadata(ofbInput(ofbBody(), ofbSsa({ software_statement_roles: [] }))), 'unapproved_software_statement', 'no active role');
  });
  it('SSA values prevail over the body (client_name)', () => {
    expect(validateRegistrationMetadata(ofbInput(ofbBody({ client_name: 'Body Name' }))).client_name).toBe('OFB TPP');
  });
});

// ---------------------------------------------------------------------------------------------

describe('fapi2', () => {
  const AS = 'https://as.bank.example';
  const fapiClaims = (o: Record<string, unknown> = {}) =>
    without(
      obieClaims({
        aud: AS,
        response_types: ['code'],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'EdDSA',
        id_token_signed_response_alg: 'EdDSA',
        request_object_signing_alg: 'EdDSA',
        ...o,
      }),
      ...(o.token_endpoint_auth_method === 'tls_client_auth' ? [] : ['tls_client_auth_subject_dn']),
    );
  const fapiInput = (claims: Record<string, unknown> = fapiClaims(), extra: Parameters<typeof input>[0] = {}) =>
    input({ profile: 'fapi2', claims, policy: { audiences: [AS] }, ...extra });

  it('accepts EdDSA and the code response type', () => {
    const m = validateRegistrationMetadata(fapiInput());
    expect(m.id_token_signed_response_alg).toBe('EdDSA');
    expect(m.response_types).toEqual(['code']);
    expect(m.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(m.jwks_uri).toBe(SSA_JWKS);
  });
  it('code only: code id_token refused', () => {
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ response_types: ['code id_token'] }))), 'invalid_client_metadata', "'code id_token' is not allowed");
  });
  it('future iat: 10 s accepted, 60 s rejected', () => {
    expect(() => validateRegistrationMetadata(fapiInput(fapiClaims({ iat: NOW + 10, exp: NOW + 3610 }), { policy: { audiences: [AS], leewaySeconds: 0 } }))).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ iat: NOW + 60, exp: NOW + 3660 }))), 'invalid_client_metadata', 'iat');
  });
  it('accepts aud as an array containing the AS issuer', () => {
    expect(() => validateRegistrationMetadata(fapiInput(fapiClaims({ aud: ['https://x.example', AS] })))).not.toThrow();
  });
  it('tls_client_auth with exactly one RFC 8705 SAN claim, matched against the certificate', () => {
    const pem = buildCertificate([[{ type: OID.CN, utf8: 'tpp' }]], { dns: ['tpp.example.com'], ip: ['2001:db8::1'] });
    const base = { token_endpoint_auth_method: 'tls_client_auth' };
    const run = (o: Record<string, unknown>) =>
      validateRegistrationMetadata(fapiInput(without(fapiClaims({ ...base, ...o }), 'tls_client_auth_subject_dn'), { subject: certificateSubject(pem), pem, policy: { audiences: [AS] } }));
    expect(run({ tls_client_auth_san_dns: 'TPP.example.com' }).tls_client_auth_san_dns).toBe('TPP.example.com');
    expect(run({ tls_client_auth_san_ip: '2001:db8:0::1' }).tls_client_auth_san_ip).toBe('2001:db8:0::1');
    expectRejection(() => run({ tls_client_auth_san_dns: 'other.example.com' }), 'invalid_client_metadata', 'tls_client_auth_san_dns');
    expectRejection(() => run({ tls_client_auth_san_dns: 'tpp.example.com', tls_client_auth_san_ip: '2001:db8::1' }), 'invalid_client_metadata', 'exactly one');
    expectRejection(() => run({}), 'invalid_client_metadata', 'exactly one of');
    expectRejection(() => run({ tls_client_auth_san_ip: '999.1.1.1' }), 'invalid_client_metadata', 'IPv4');
  });
  it('self_signed_tls_client_auth with registered jwks; jwks and jwks_uri not both', () => {
    const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', x5c: ['MII'] }] };
    const m = validateRegistrationMetadata(fapiInput(fapiClaims({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks })));
    expect(m.jwks).toEqual(jwks);
    expect(m.jwks_uri).toBeUndefined();
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ jwks, jwks_uri: 'https://tpp.example.com/jwks' }))), 'invalid_client_metadata', 'both');
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ jwks: { keys: [{ kty: 'EC', d: 'secret' }] } }))), 'invalid_client_metadata', 'public key');
  });
  it('implicit and client secrets refused', () => {
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ grant_types: ['implicit'] }))), 'invalid_client_metadata');
    expectRejection(() => validateRegistrationMetadata(fapiInput(fapiClaims({ token_endpoint_auth_method: 'client_secret_basic' }))), 'invalid_client_metadata');
  });
});

// ---------------------------------------------------------------------------------------------

describe('rfc7591', () => {
  const rfcInput = (claims: Record<string, unknown>, ssa: Record<string, unknown> | null = null) =>
    input({ profile: 'rfc7591', claims, ssa, subject: 'CN=client', policy: { ssaIssuers: [] } });

  it('registers a JSON request without an SSA, with RFC 7591 defaults', () => {
    const m = validateRegistrationMetadata(rfcInput({ redirect_uris: ['https://client.example.org/cb'] }));
    expect(m).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      application_type: 'web',
      scope: 'openid',
      tls_client_certificate_bound_access_tokens: false,
      software_roles: [],
    });
    expect(m.software_id).toBeUndefined();
  });
  it('needs redirect URIs only for redirect-based grants', () => {
    expectRejection(() => validateRegistrationMetadata(rfcInput({})), 'invalid_redirect_uri', 'authorization_code');
    expect(validateRegistrationMetadata(rfcInput({ grant_types: ['client_credentials'] })).redirect_uris).toEqual([]);
  });
  it('private_key_jwt needs keys; a client-sent software_id is kept', () => {
    expectRejection(
      () => validateRegistrationMetadata(rfcInput({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'PS256' })),
      'invalid_client_metadata',
      'jwks_uri: required',
    );
    const m = validateRegistrationMetadata(
      rfcInput({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: 'https://client.example.org/jwks', software_id: 'abc' }),
    );
    expect(m.jwks_uri).toBe('https://client.example.org/jwks');
    expect(m.software_id).toBe('abc');
  });
  it('an SSA, when sent, must come from a trusted issuer', () => {
    expectRejection(() => validateRegistrationMetadata(rfcInput({ grant_types: ['client_credentials'], software_statement: 'a.b.c' }, obieSsa())), 'unapproved_software_statement');
  });
  it('a signed request (JWS envelope) gets the JWT time rules', () => {
    const claims = { grant_types: ['client_credentials'], iat: NOW, exp: NOW - 10 };
    expectRejection(() => validateRegistrationMetadata({ ...rfcInput(claims), envelope: 'jws' }), 'invalid_client_metadata', 'exp');
    expect(() => validateRegistrationMetadata(rfcInput(claims))).not.toThrow(); // JSON: iat/exp are not JWT claims there
  });
});

it('all profiles: unconfigured audience is a configuration error, not a rejection', () => {
  expect(() => validateRegistrationMetadata(input({ policy: { audiences: [] } }))).toThrow(/DCR_AUDIENCE/);
});

it('sanity: fixtures are OBIE 3.3 conformance-like', () => {
  expect(obieClaims().redirect_uris).toEqual([REDIRECTS[0]]);
  expect(obieClaims().iss).toBe(SOFTWARE_ID);
});
