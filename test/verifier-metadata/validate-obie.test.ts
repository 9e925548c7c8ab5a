import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../core/domain/errors.js';
import { certificateSubject } from '../../platform/pki/dn.js';
import { CIBA_GRANT_TYPE } from '../../core/profiles/index.js';
import { validateRegistration, validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import {
  AUDIENCE,
  NOW,
  OB_SUBJECT_DN,
  ORG_ID,
  REDIRECTS,
  SOFTWARE_ID,
  SSA_JWKS,
  expectRejection,
  input,
  obLegacyCertificate,
  obieClaims,
  obieSsa,
  without,
} from './fixtures.js';

describe('OBIE 3.3: a valid registration', () => {
  it('passes and yields normalised metadata with defaults', () => {
    const metadata = validateRegistrationMetadata(input());
    expect(metadata).toEqual({
      redirect_uris: [REDIRECTS[0]],
      token_endpoint_auth_method: 'tls_client_auth',
      token_endpoint_auth_signing_alg: 'PS256',
      tls_client_auth_subject_dn: OB_SUBJECT_DN,
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code id_token'], // OBIE default
      application_type: 'web',
      scope: 'accounts openid',
      id_token_signed_response_alg: 'PS256',
      request_object_signing_alg: 'PS256',
      software_id: SOFTWARE_ID,
      org_id: ORG_ID,
      software_roles: ['AISP', 'PISP'],
      jwks_uri: SSA_JWKS,
      software_statement: expect.any(String),
      subject_type: 'public',
      // SSA precedence (RFC 7591 §3.1.1)
      client_name: 'TPP Example App',
      client_uri: 'https://tpp.example.com',
      logo_uri: 'https://tpp.example.com/logo.png',
      policy_uri: 'https://tpp.example.com/policy',
      tos_uri: 'https://tpp.example.com/tos',
    });
  });

  it('passes with the subject of a real certificate (Go RDN string from conformance-dcr)', () => {
    const pem = obLegacyCertificate();
    expect(() => validateRegistrationMetadata(input({ subject: certificateSubject(pem), pem }))).not.toThrow();
  });

  it('passes with private_key_jwt and ES256', () => {
    const claims = without(
      obieClaims({
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        id_token_signed_response_alg: 'ES256',
        request_object_signing_alg: 'ES256',
        response_types: ['code'],
      }),
      'tls_client_auth_subject_dn',
    );
    const metadata = validateRegistrationMetadata(input({ claims }));
    expect(metadata.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(metadata.tls_client_auth_subject_dn).toBeUndefined();
    expect(metadata.response_types).toEqual(['code']);
  });

  it('ignores unknown claims and a client_id on POST', () => {
    const metadata = validateRegistrationMetadata(input({ claims: obieClaims({ foo: 'bar', client_id: 'x' }) }));
    expect(metadata).not.toHaveProperty('foo');
    expect(metadata).not.toHaveProperty('client_id');
  });

  it('returns the SSA facts too', () => {
    const { ssa } = validateRegistration(input());
    expect(ssa.softwareId).toBe(SOFTWARE_ID);
    expect(ssa.redirectUris).toEqual(REDIRECTS);
  });
});

describe('OBIE 3.3: step 7 — required claims', () => {
  for (const name of [
    'iss',
    'iat',
    'exp',
    'aud',
    'jti',
    'redirect_uris',
    'token_endpoint_auth_method',
    'grant_types',
    'scope',
    'software_statement',
    'application_type',
    'id_token_signed_response_alg',
    'request_object_signing_alg',
  ]) {
    it(`rejects a request without ${name}`, () => {
      expectRejection(() => validateRegistrationMetadata(input({ claims: without(obieClaims(), name) })), 'invalid_client_metadata', `'${name}'`);
    });
  }
  it('treats null as missing', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ scope: null }) })), 'invalid_client_metadata', "'scope'");
  });
  it('rejects a software_statement that is not a compact JWS', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ software_statement: 'abc' }) })), 'invalid_software_statement');
  });
});

describe('OBIE 3.3: step 8 — SSA checks', () => {
  it('unapproved when the SSA issuer is not trusted', () => {
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ iss: 'Someone Else' }) })), 'unapproved_software_statement', "'Someone Else'");
  });
  it('invalid when the SSA has no iss', () => {
    expectRejection(() => validateRegistrationMetadata(input({ ssa: without(obieSsa(), 'iss') })), 'invalid_software_statement');
  });
  it('invalid when the SSA is older than the configured max age', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ ssa: obieSsa({ iat: NOW - 600 }), policy: { ssaMaxAgeSeconds: 300 } })),
      'invalid_software_statement',
      'too old',
    );
    expect(() => validateRegistrationMetadata(input({ ssa: obieSsa({ iat: NOW - 600 }), policy: { ssaMaxAgeSeconds: 3600 } }))).not.toThrow();
    // default for OBIE: no max age (conformance-dcr reuses one SSA)
    expect(() => validateRegistrationMetadata(input({ ssa: obieSsa({ iat: NOW - 86_400 * 365 }) }))).not.toThrow();
  });
  it('invalid when the SSA iat is in the future or not an integer, or exp has passed', () => {
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ iat: NOW + 120 }) })), 'invalid_software_statement', 'future');
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ iat: '1700000000' }) })), 'invalid_software_statement');
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ exp: NOW - 100 }) })), 'invalid_software_statement', 'expired');
  });
  for (const name of ['software_id', 'org_id', 'software_roles', 'software_redirect_uris', 'software_jwks_endpoint']) {
    it(`invalid when the SSA lacks ${name}`, () => {
      expectRejection(() => validateRegistrationMetadata(input({ ssa: without(obieSsa(), name) })), 'invalid_software_statement', name);
    });
  }
  it('invalid when SSA claims have the wrong type or format', () => {
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ software_roles: 'AISP' }) })), 'invalid_software_statement');
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ software_redirect_uris: 'https://a' }) })), 'invalid_software_statement');
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ software_jwks_endpoint: 'http://keys' }) })), 'invalid_software_statement');
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ software_id: '6b3b4b6e-UUID-like' }) })), 'invalid_software_statement', 'Base62');
  });
  it('unapproved when the organisation or competent authority status is not Active', () => {
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ org_status: 'Revoked' }) })), 'unapproved_software_statement', 'org_status');
    expect(() => validateRegistrationMetadata(input({ ssa: obieSsa({ org_status: 'active' }) }))).not.toThrow();
    // The verifier is the one owner of the SSA's status claims (the revocation stage no longer
    // re-judges them): an SSA without the profile's org_status is not known to be Active.
    expectRejection(() => validateRegistrationMetadata(input({ ssa: obieSsa({ org_status: undefined }) })), 'unapproved_software_statement', 'SSA org_status: missing');
    const ca = obieSsa().organisation_competent_authority_claims as Record<string, unknown>;
    expectRejection(
      () => validateRegistrationMetadata(input({ ssa: obieSsa({ organisation_competent_authority_claims: { ...ca, status: 'Withdrawn' } }) })),
      'unapproved_software_statement',
    );
  });
  it('unapproved when a role needed by the requested scope is not authorised', () => {
    const ssa = obieSsa({
      organisation_competent_authority_claims: { status: 'Active', authorisations: [{ member_state: 'GB', roles: ['PISP'] }] },
    });
    expectRejection(() => validateRegistrationMetadata(input({ ssa })), 'unapproved_software_statement', "scope 'accounts'");
    const metadata = validateRegistrationMetadata(input({ ssa, claims: obieClaims({ scope: 'payments openid' }) }));
    expect(metadata.software_roles).toEqual(['PISP']);
  });
  it('requires a trusted issuer to be configured', () => {
    expect(() => validateRegistrationMetadata(input({ policy: { ssaIssuers: [] } }))).toThrow(ConfigurationError);
  });
});

describe('OBIE 3.3: step 10 — iss (conformance DCR-004 b/c/d)', () => {
  it.each([
    ['foo.is/invalid', 'Base62'],
    ['', 'empty'],
    ['1'.repeat(30), 'Base62'],
    [42, 'string'],
  ])('rejects iss %j', (iss, reason) => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ iss }) })), 'invalid_client_metadata', reason as string);
  });
  it('rejects an iss that is not the SSA software_id', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ iss: 'AnotherSoftware1' }) })), 'invalid_client_metadata', 'software_id');
  });
});

describe('OBIE 3.3: step 11 — aud', () => {
  it('rejects an audience that is not configured', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ aud: 'someoneelse' }) })), 'invalid_client_metadata', 'aud');
  });
  it('rejects an array audience (OBIE: a string)', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ aud: [AUDIENCE] }) })), 'invalid_client_metadata', 'aud: must be a string');
  });
  it('accepts any of several configured audiences', () => {
    expect(() =>
      validateRegistrationMetadata(input({ claims: obieClaims({ aud: 'https://bank.example' }), policy: { audiences: [AUDIENCE, 'https://bank.example'] } })),
    ).not.toThrow();
  });
});

describe('OBIE 3.3: step 12 — time (SPEC §2.4)', () => {
  it('DCR-004 a: exp = iat - 1h', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ exp: NOW - 3600 }) })), 'invalid_client_metadata', 'exp');
  });
  it('rejects an expired request beyond the leeway, accepts within it', () => {
    const claims = obieClaims({ iat: NOW - 3600, exp: NOW - 31 });
    expectRejection(() => validateRegistrationMetadata(input({ claims })), 'invalid_client_metadata', 'expired');
    expect(() => validateRegistrationMetadata(input({ claims: obieClaims({ iat: NOW - 3600, exp: NOW - 30 }) }))).not.toThrow();
  });
  it('accepts exp - iat = 3600 (conformance-dcr) and rejects longer lifetimes', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ exp: NOW + 3601 }) })), 'invalid_client_metadata', 'lifetime');
    expect(() =>
      validateRegistrationMetadata(input({ claims: obieClaims({ exp: NOW + 7200 }), policy: { maxRequestLifetimeSeconds: 7200 } })),
    ).not.toThrow();
  });
  it('future iat: 10 s accepted, 60 s rejected, in between by leeway', () => {
    const at = (offset: number, leewaySeconds?: number) =>
      input({ claims: obieClaims({ iat: NOW + offset, exp: NOW + offset + 3600 }), policy: leewaySeconds === undefined ? {} : { leewaySeconds } });
    expect(() => validateRegistrationMetadata(at(10, 0))).not.toThrow();
    expect(() => validateRegistrationMetadata(at(30))).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(at(31)), 'invalid_client_metadata', 'future');
    expectRejection(() => validateRegistrationMetadata(at(11, 0)), 'invalid_client_metadata', 'future');
    expectRejection(() => validateRegistrationMetadata(at(60, 60)), 'invalid_client_metadata', 'iat: is 60 s in the future');
  });
  it('rejects non-integer times and a future nbf', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ iat: NOW + 0.5 }) })), 'invalid_client_metadata', 'integer');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ exp: String(NOW + 10) }) })), 'invalid_client_metadata', 'integer');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ nbf: NOW + 120 }) })), 'invalid_client_metadata', 'nbf');
  });
  it('rejects an iat older than the maximum lifetime', () => {
    // (implied by exp - iat <= max and exp + leeway >= now; whichever rule fires, the code is the same)
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ iat: NOW - 4000, exp: NOW + 60 }) })), 'invalid_client_metadata');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ iat: NOW - 4000, exp: NOW - 500 }) })), 'invalid_client_metadata');
  });
});

describe('OBIE 3.3: step 13 — jti format', () => {
  it('accepts upper- and lower-case UUIDv4, rejects others', () => {
    expect(() => validateRegistrationMetadata(input({ claims: obieClaims({ jti: 'F47AC10B-58CC-4372-A567-0E02B2C3D479' }) }))).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ jti: 'not-a-uuid' }) })), 'invalid_client_metadata', 'jti');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ jti: 'f47ac10b-58cc-1372-a567-0e02b2c3d479' }) })), 'invalid_client_metadata', 'UUIDv4');
  });
});

describe('OBIE 3.3: step 14 — certificate binding (SPEC §7.3)', () => {
  it('accepts an OBWAC certificate (CN = org_id) with a matching DN', () => {
    const dn = `CN=${ORG_ID},2.5.4.97=PSDGB-FCA-123456,O=TPP Example Ltd,C=GB`;
    expect(() => validateRegistrationMetadata(input({ subject: dn, claims: obieClaims({ tls_client_auth_subject_dn: dn }) }))).not.toThrow();
  });
  it('unapproved when the certificate belongs to another org or software', () => {
    const dn = `CN=${SOFTWARE_ID},OU=0015800001041XXXXX,O=OpenBanking,C=GB`;
    expectRejection(() => validateRegistrationMetadata(input({ subject: dn, claims: obieClaims({ tls_client_auth_subject_dn: dn }) })), 'unapproved_software_statement', 'org_id');
    expectRejection(() => validateRegistrationMetadata(input({ subject: null })), 'unapproved_software_statement', 'no client certificate');
  });
  it('accepts the JWKS alternative binding in place of the software-id subject rule', () => {
    // OU = org_id (the SSA's organisation), CN not the software id: only the key in the software JWKS binds it.
    const dn = `CN=elsewhere,OU=${ORG_ID},O=TPP Example Ltd,C=GB`;
    expectRejection(() => validateRegistrationMetadata(input({ subject: dn, claims: obieClaims({ tls_client_auth_subject_dn: dn }) })), 'unapproved_software_statement');
    expect(() =>
      validateRegistrationMetadata(input({ subject: dn, inSoftwareJwks: true, claims: obieClaims({ tls_client_auth_subject_dn: dn }) })),
    ).not.toThrow();
  });
  it('the JWKS alternative binding does not make a certificate naming another organisation acceptable', () => {
    // The organisation a certificate names is the TPP identity of later calls: it must be the SSA's.
    const dn = 'CN=elsewhere,O=Other,C=GB';
    expectRejection(
      () => validateRegistrationMetadata(input({ subject: dn, inSoftwareJwks: true, claims: obieClaims({ tls_client_auth_subject_dn: dn }) })),
      'unapproved_software_statement',
      'not SSA org_id',
    );
  });
});

describe('OBIE 3.3: step 15 — redirect URIs', () => {
  it.each([
    ['http://tpp.example.com/callback', "scheme 'http'"],
    ['https://localhost/cb', "host 'localhost'"],
    ['https://app.localhost/cb', "host 'app.localhost'"],
    ['https://127.0.0.1/cb', "host '127.0.0.1'"],
    ['https://127.1.2.3:8443/cb', "host '127.1.2.3'"],
    ['https://[::1]/cb', "host '[::1]'"],
    ['https://[::ffff:127.0.0.1]/cb', 'host'],
    ['https://tpp.example.com/callback#frag', 'fragment'],
    ['https://tpp.example.com/callback#', 'fragment'],
    ['https://user:pw@tpp.example.com/callback', 'user information'],
    ['/relative', 'not an absolute URL'],
    [`https://tpp.example.com/${'a'.repeat(250)}`, 'longer than 256'],
    ['https://tpp.example.com/not-in-ssa', 'software_redirect_uris'],
    ['https://TPP.example.com/callback', 'software_redirect_uris'], // exact string match
  ])('rejects %s', (uri, reason) => {
    const rejection = expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: [REDIRECTS[0], uri] }) })),
      'invalid_redirect_uri',
      reason,
    );
    expect(rejection.errorDescription.startsWith('redirect_uris[1]:')).toBe(true);
  });
  it('reports the host in the description', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: [REDIRECTS[0], 'https://localhost/cb'] }) })),
      'invalid_redirect_uri',
      "redirect_uris[1]: host 'localhost' is not allowed",
    );
  });
  it('rejects a non-array, an empty list and duplicates', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: REDIRECTS[0] }) })), 'invalid_redirect_uri');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: [] }) })), 'invalid_redirect_uri');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: [REDIRECTS[0], REDIRECTS[0]] }) })), 'invalid_redirect_uri', 'duplicate');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: [7] }) })), 'invalid_redirect_uri');
  });
  it('accepts several SSA URIs', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ redirect_uris: REDIRECTS }) })).redirect_uris).toEqual(REDIRECTS);
  });
});

describe('OBIE 3.3: step 16 — auth method and conditional claims', () => {
  it('rejects methods outside the bank policy', () => {
    for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'none', 'self_signed_tls_client_auth']) {
      expectRejection(
        () => validateRegistrationMetadata(input({ claims: obieClaims({ token_endpoint_auth_method: method }) })),
        'invalid_client_metadata',
        `token_endpoint_auth_method: '${method}' is not allowed`,
      );
    }
  });
  it('requires token_endpoint_auth_signing_alg with private_key_jwt', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: without(obieClaims({ token_endpoint_auth_method: 'private_key_jwt' }), 'token_endpoint_auth_signing_alg') })),
      'invalid_client_metadata',
      'token_endpoint_auth_signing_alg: required',
    );
  });
  it('requires tls_client_auth_subject_dn with tls_client_auth and refuses SAN variants', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: without(obieClaims(), 'tls_client_auth_subject_dn') })), 'invalid_client_metadata', 'tls_client_auth_subject_dn');
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_auth_san_dns: 'tpp.example.com' }) })),
      'invalid_client_metadata',
      'tls_client_auth_san_dns: not supported',
    );
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_auth_subject_dn: 'garbage' }) })), 'invalid_client_metadata', 'RFC 4514');
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_auth_subject_dn: `CN=${'x'.repeat(130)}` }) })),
      'invalid_client_metadata',
      'longer than 128',
    );
  });
  it('forces tls_client_certificate_bound_access_tokens to true', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_certificate_bound_access_tokens: false }) })).tls_client_certificate_bound_access_tokens).toBe(true);
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_certificate_bound_access_tokens: 'yes' }) })),
      'invalid_client_metadata',
    );
  });
});

describe('OBIE 3.3: CIBA', () => {
  const ciba = (extra: Record<string, unknown> = {}) =>
    obieClaims({
      grant_types: ['client_credentials', CIBA_GRANT_TYPE],
      backchannel_token_delivery_mode: 'ping',
      backchannel_client_notification_endpoint: 'https://tpp.example.com/ciba',
      backchannel_authentication_request_signing_alg: 'PS256',
      ...extra,
    });

  it('accepts a ping registration and returns the CIBA fields', () => {
    const metadata = validateRegistrationMetadata(input({ claims: ciba({ backchannel_user_code_parameter_supported: false }) }));
    expect(metadata).toMatchObject({
      backchannel_token_delivery_mode: 'ping',
      backchannel_client_notification_endpoint: 'https://tpp.example.com/ciba',
      backchannel_authentication_request_signing_alg: 'PS256',
      backchannel_user_code_parameter_supported: false,
      response_types: [], // no authorization_code grant
    });
  });
  it('poll needs no notification endpoint', () => {
    expect(() => validateRegistrationMetadata(input({ claims: without(ciba({ backchannel_token_delivery_mode: 'poll' }), 'backchannel_client_notification_endpoint') }))).not.toThrow();
  });
  it('rejects push, missing conditional claims, bad values', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: ciba({ backchannel_token_delivery_mode: 'push' }) })), 'invalid_client_metadata', "'push' is not allowed");
    expectRejection(() => validateRegistrationMetadata(input({ claims: without(ciba(), 'backchannel_token_delivery_mode') })), 'invalid_client_metadata', 'backchannel_token_delivery_mode: required');
    expectRejection(() => validateRegistrationMetadata(input({ claims: without(ciba(), 'backchannel_client_notification_endpoint') })), 'invalid_client_metadata', 'required with delivery mode ping');
    expectRejection(() => validateRegistrationMetadata(input({ claims: without(ciba(), 'backchannel_authentication_request_signing_alg') })), 'invalid_client_metadata', 'backchannel_authentication_request_signing_alg: required');
    expectRejection(() => validateRegistrationMetadata(input({ claims: ciba({ backchannel_authentication_request_signing_alg: 'RS256' }) })), 'invalid_client_metadata', "'RS256' is not allowed");
    expectRejection(() => validateRegistrationMetadata(input({ claims: ciba({ backchannel_user_code_parameter_supported: true }) })), 'invalid_client_metadata', 'must be false');
    expectRejection(() => validateRegistrationMetadata(input({ claims: ciba({ backchannel_client_notification_endpoint: 'http://tpp.example.com/ciba' }) })), 'invalid_client_metadata', 'https');
  });
  it('rejects CIBA claims without the CIBA grant', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ backchannel_token_delivery_mode: 'poll' }) })), 'invalid_client_metadata', 'only allowed together');
  });
  it('refuses the CIBA grant in OBIE 3.2', () => {
    expectRejection(() => validateRegistrationMetadata(input({ profile: 'obie-3.2', claims: ciba() })), 'invalid_client_metadata', `'${CIBA_GRANT_TYPE}' is not allowed`);
  });
});

describe('OBIE 3.3: step 17 — DN matches the certificate', () => {
  it('accepts reversed (OpenSSL forward) order and case/whitespace differences', () => {
    const dn = `c=gb, o=openbanking, ou=${ORG_ID}, cn=${SOFTWARE_ID}`;
    expect(() => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_auth_subject_dn: dn }) }))).not.toThrow();
  });
  it('rejects a DN of another certificate', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ tls_client_auth_subject_dn: `CN=${SOFTWARE_ID},OU=${ORG_ID},O=OpenBanking Ltd,C=GB` }) })),
      'invalid_client_metadata',
      'does not match the client certificate subject',
    );
  });
});

describe('OBIE 3.3: step 18 — algorithms, grants, response types, scope, software_id', () => {
  it('DCR-004 e: RS256 id_token_signed_response_alg', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ id_token_signed_response_alg: 'RS256', token_endpoint_auth_signing_alg: 'RS256' }) })),
      'invalid_client_metadata',
      'RS256',
    );
  });
  it.each(['id_token_signed_response_alg', 'request_object_signing_alg', 'token_endpoint_auth_signing_alg'])('rejects none/HS256/RS256/EdDSA in %s', (name) => {
    for (const alg of ['none', 'HS256', 'RS256', 'EdDSA']) {
      expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ [name]: alg }) })), 'invalid_client_metadata', `${name}: '${alg}' is not allowed`);
    }
  });
  it('DCR-011: response_types [id_token, token]', () => {
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ response_types: ['id_token', 'token'] }) })),
      'invalid_client_metadata',
      "response_types[0]: 'id_token' is not allowed",
    );
  });
  it('normalises response type word order and checks consistency', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ response_types: ['id_token code'] }) })).response_types).toEqual(['code id_token']);
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: ['client_credentials'], response_types: ['code'] }) })),
      'invalid_client_metadata',
      'requires the authorization_code grant',
    );
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ response_types: [] }) })), 'invalid_client_metadata', "requires a response type containing 'code'");
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: ['client_credentials'] }) })).response_types).toEqual([]);
  });
  it('rejects unknown, implicit and malformed grant types', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: ['authorization_code', 'implicit'] }) })), 'invalid_client_metadata', "grant_types[1]: 'implicit' is not allowed");
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: ['password'] }) })), 'invalid_client_metadata', 'password');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: [] }) })), 'invalid_client_metadata', 'at least one');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ grant_types: 'authorization_code' }) })), 'invalid_client_metadata', 'array');
  });
  it('checks application_type', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ application_type: 'mobile' }) })).application_type).toBe('mobile');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ application_type: 'native' }) })), 'invalid_client_metadata', 'application_type');
  });
  it('scope must be within the SSA roles; openid always allowed', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ scope: 'openid payments accounts' }) })).scope).toBe('openid payments accounts');
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ scope: 'accounts  accounts openid' }) })).scope).toBe('accounts openid');
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ scope: 'accounts fundsconfirmations' }) })),
      'invalid_client_metadata',
      "scope: 'fundsconfirmations' is not allowed for software roles AISP, PISP",
    );
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ scope: ['accounts'] }) })), 'invalid_client_metadata', 'space-separated string');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ scope: '' }) })), 'invalid_client_metadata', 'empty');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ scope: `accounts ${'x'.repeat(260)}` }) })), 'invalid_client_metadata', 'longer than 256');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ scope: 'accounts "x"' }) })), 'invalid_client_metadata', 'not a valid scope token');
  });
  it('software_id must equal the SSA software_id', () => {
    expect(() => validateRegistrationMetadata(input({ claims: obieClaims({ software_id: SOFTWARE_ID }) }))).not.toThrow();
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ software_id: 'Other123' }) })), 'invalid_client_metadata', 'software_id');
  });
  it('takes jwks_uri from the SSA (a request value is overridden)', () => {
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ jwks_uri: 'https://elsewhere.example.com/jwks' }) })).jwks_uri).toBe(SSA_JWKS);
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ jwks: { keys: [] }, jwks_uri: 'https://elsewhere.example.com/jwks' }) })),
      'invalid_client_metadata',
    );
  });
  it('checks the pass-through metadata against its schema', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ subject_type: 'weird' }) })), 'invalid_client_metadata', 'subject_type');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ contacts: 'ops@x' }) })), 'invalid_client_metadata', 'contacts');
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ default_max_age: -1 }) })), 'invalid_client_metadata', 'default_max_age');
    expect(validateRegistrationMetadata(input({ claims: obieClaims({ contacts: ['ops@tpp.example.com'] }) })).contacts).toEqual(['ops@tpp.example.com']);
  });
});

describe('update (RFC 7592 PUT)', () => {
  const existing = { software_id: SOFTWARE_ID, org_id: ORG_ID };
  it('accepts a fresh request without client_id (OBIE) and with the right one', () => {
    expect(() => validateRegistrationMetadata(input({ update: { clientId: 'c-1', existing } }))).not.toThrow();
    expect(() => validateRegistrationMetadata(input({ claims: obieClaims({ client_id: 'c-1' }), update: { clientId: 'c-1', existing } }))).not.toThrow();
  });
  it('rejects a mismatched client_id, server-managed members, and a changed software/org', () => {
    expectRejection(() => validateRegistrationMetadata(input({ claims: obieClaims({ client_id: 'c-2' }), update: { clientId: 'c-1', existing } })), 'invalid_client_metadata', 'client_id');
    expectRejection(
      () => validateRegistrationMetadata(input({ claims: obieClaims({ registration_access_token: 'x' }), update: { clientId: 'c-1', existing } })),
      'invalid_client_metadata',
      'registration_access_token',
    );
    expectRejection(
      () => validateRegistrationMetadata(input({ update: { clientId: 'c-1', existing: { ...existing, software_id: 'OtherSoftware' } } })),
      'invalid_client_metadata',
      'software_id: cannot change',
    );
  });
});
