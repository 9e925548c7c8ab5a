import { describe, expect, it } from 'vitest';
import { getProfile } from '../../core/profiles/index.js';
import { buildRegistrationResponse } from '../../core/registration/response.js';
import { validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import { ORG_ID, OB_SUBJECT_DN, SOFTWARE_ID, SSA_JWS, input, obieClaims, obieSsa, without } from './fixtures.js';

const server = {
  client_id: 'c0a8d6f2-3b7e-4a8e-9f6a-1a2b3c4d5e6f',
  client_id_issued_at: 1_760_000_100,
  registration_access_token: 'rat-123',
  registration_client_uri: 'https://bank.example/register/c0a8d6f2-3b7e-4a8e-9f6a-1a2b3c4d5e6f',
};

describe('buildRegistrationResponse (SPEC §5.1)', () => {
  it('OBIE: registered metadata + flattened SSA claims + server members; request-only claims dropped', () => {
    const ssa = obieSsa({ client_name: 'from SSA', scope: 'ssa-scope' });
    const metadata = validateRegistrationMetadata(input({ ssa }));
    const body = buildRegistrationResponse(getProfile('obie-3.3'), metadata, ssa, server);
    expect(body).toMatchObject({
      client_id: server.client_id,
      client_id_issued_at: server.client_id_issued_at,
      registration_access_token: 'rat-123',
      registration_client_uri: server.registration_client_uri,
      software_statement: SSA_JWS, // unmodified
      software_id: SOFTWARE_ID,
      org_id: ORG_ID,
      software_jwks_endpoint: ssa.software_jwks_endpoint, // flattened SSA claim
      org_contacts: ssa.org_contacts,
      organisation_competent_authority_claims: ssa.organisation_competent_authority_claims,
      scope: 'accounts openid', // client value wins on a clash
      client_name: 'TPP Example App', // registered (SSA software_client_name precedence) wins
      tls_client_auth_subject_dn: OB_SUBJECT_DN,
      response_types: ['code id_token'],
    });
    for (const name of ['iss', 'iat', 'exp', 'aud', 'jti']) expect(body).not.toHaveProperty(name);
    expect(body).not.toHaveProperty('client_secret');
  });

  it('passes the conformance-dcr 3.3 response schema rules', () => {
    const ssa = obieSsa();
    const body = buildRegistrationResponse(getProfile('obie-3.3'), validateRegistrationMetadata(input({ ssa })), ssa, server);
    expect(typeof body.client_id === 'string' && body.client_id.length <= 36).toBe(true);
    expect(body.software_id).toMatch(/^[0-9a-zA-Z]{1,22}$/);
    expect(typeof body.scope === 'string' && body.scope.length <= 256).toBe(true);
    expect(['web', 'mobile']).toContain(body.application_type);
    for (const rt of body.response_types as string[]) expect(['code', 'code id_token']).toContain(rt);
    expect((body.id_token_signed_response_alg as string).length).toBeLessThanOrEqual(5);
    expect((body.tls_client_auth_subject_dn as string).length).toBeLessThanOrEqual(128);
  });

  it('omits the registration access token when not issued, adds client_secret when issued', () => {
    const metadata = validateRegistrationMetadata(input());
    const { registration_access_token: _unused, ...rest } = server;
    const body = buildRegistrationResponse(getProfile('obie-3.3'), metadata, obieSsa(), { ...rest, client_secret: 's3cr3t' });
    expect(body).not.toHaveProperty('registration_access_token');
    expect(body).toMatchObject({ client_secret: 's3cr3t', client_secret_expires_at: 0 });
  });

  it('OBIE 3.1 returns scope as an array', () => {
    const subject = `CN=ShortSoftware01,OU=${ORG_ID},O=OpenBanking,C=GB`;
    const ssa = obieSsa({ software_id: 'ShortSoftware01' });
    const claims = without(obieClaims({ iss: 'ShortSoftware01', scope: ['accounts', 'openid'], tls_client_auth_dn: subject }), 'tls_client_auth_subject_dn');
    const metadata = validateRegistrationMetadata(input({ profile: 'obie-3.1', claims, ssa, subject }));
    const body = buildRegistrationResponse(getProfile('obie-3.1'), metadata, ssa, server);
    expect(body.scope).toEqual(['accounts', 'openid']);
    expect(body.tls_client_auth_subject_dn).toBe(subject);
  });

  it('CDR flattens only its listed SSA claims; OFB/FAPI2/RFC 7591 none', () => {
    const ssa = { iss: 'cdr-register', legal_entity_name: 'Mock Co', recipient_base_uri: 'https://x', scope: 'openid', extra: 1 };
    const metadata = validateRegistrationMetadata(input());
    const cdr = buildRegistrationResponse(getProfile('cdr'), metadata, ssa, server);
    expect(cdr).toMatchObject({ legal_entity_name: 'Mock Co', recipient_base_uri: 'https://x', scope: 'accounts openid' });
    expect(cdr).not.toHaveProperty('extra');
    expect(cdr).not.toHaveProperty('iss');
    const ofb = buildRegistrationResponse(getProfile('openfinance-br'), metadata, ssa, server);
    expect(ofb).not.toHaveProperty('legal_entity_name');
    expect(buildRegistrationResponse(getProfile('rfc7591'), metadata, null, server)).toHaveProperty('client_id');
  });
});
