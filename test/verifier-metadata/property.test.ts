/**
 * Property-based tests (fast-check): generated valid OBIE 3.3 registrations pass; one mutation of
 * a valid registration fails with the right code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RegistrationRejection, type RejectionCode } from '../../core/domain/errors.js';
import { OBIE_ROLE_SCOPES } from '../../core/profiles/common.js';
import { validateRegistrationMetadata } from '../../services/verifier/metadata/validate.js';
import type { MetadataInput } from '../../services/verifier/metadata/types.js';
import { AUDIENCE, NOW, SSA_ISSUER, SSA_JWS, input, obieSsa } from './fixtures.js';

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const base62 = (min: number, max: number) =>
  fc.array(fc.constantFrom(...BASE62), { minLength: min, maxLength: max }).map((chars) => chars.join(''));
const label = fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), { minLength: 1, maxLength: 12 }).map((c) => c.join(''));
const httpsUri = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'org', 'co.uk', 'bank', 'io'), fc.array(label, { maxLength: 4 }), fc.option(label, { nil: undefined }))
  .map(([host, tld, path, query]) => `https://${host.join('.')}.${tld}/${path.join('/')}${query ? `?q=${query}` : ''}`);

const ROLES = ['AISP', 'PISP', 'CBPII'] as const;
const ALGS = ['PS256', 'ES256'] as const;
const uuidV4 = fc.uuid({ version: 4 });

interface Scenario {
  input: MetadataInput;
  roles: string[];
  ssaUris: string[];
}

/** Generated valid OBIE 3.3 registration (request claims, SSA, certificate, policy). */
const validRegistration: fc.Arbitrary<Scenario> = fc
  .record({
    softwareId: base62(1, 22),
    orgId: base62(1, 18),
    roles: fc.subarray([...ROLES], { minLength: 1 }),
    ssaUris: fc.uniqueArray(httpsUri, { minLength: 1, maxLength: 5 }),
    pickUris: fc.func(fc.boolean()),
    authMethod: fc.constantFrom('tls_client_auth', 'private_key_jwt'),
    sendSigningAlg: fc.boolean(),
    algs: fc.record({ id: fc.constantFrom(...ALGS), ro: fc.constantFrom(...ALGS), te: fc.constantFrom(...ALGS) }),
    grants: fc.subarray(['authorization_code', 'client_credentials', 'refresh_token'], { minLength: 1 }),
    responseTypes: fc.option(fc.subarray(['code', 'code id_token'], { minLength: 1 }), { nil: undefined }),
    applicationType: fc.constantFrom('web', 'mobile'),
    withOpenid: fc.boolean(),
    scopeSeed: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    age: fc.integer({ min: -10, max: 600 }),
    lifetimeSeed: fc.nat(),
    forwardDn: fc.boolean(),
    lowerCaseDn: fc.boolean(),
    sendSoftwareId: fc.boolean(),
    jti: uuidV4,
    ssaAge: fc.integer({ min: 0, max: 86_400 }),
  })
  .map((g) => {
    const iat = NOW - g.age;
    // exp must be after iat, within 3600 s of it, and not older than the 30 s leeway.
    const minLifetime = Math.max(1, g.age - 30);
    const lifetime = minLifetime + (g.lifetimeSeed % (3600 - minLifetime + 1));
    const picked = g.ssaUris.filter((uri) => g.pickUris(uri));
    const redirectUris = picked.length ? picked : [g.ssaUris[0]!];
    const roleScopes = g.roles.flatMap((r) => OBIE_ROLE_SCOPES[r] ?? []);
    const scopes = [...new Set(g.scopeSeed.map((n) => roleScopes[n % roleScopes.length]!))];
    if (g.withOpenid) scopes.push('openid');
    let dn = g.forwardDn ? `C=GB,O=OpenBanking,OU=${g.orgId},CN=${g.softwareId}` : `CN=${g.softwareId},OU=${g.orgId},O=OpenBanking,C=GB`;
    const certDn = `CN=${g.softwareId},OU=${g.orgId},O=OpenBanking,C=GB`;
    if (g.lowerCaseDn) dn = dn.replace(/O=OpenBanking/, 'o=openbanking').replace('C=GB', 'c=gb');
    const hasCode = g.grants.includes('authorization_code');
    const claims: Record<string, unknown> = {
      iss: g.softwareId,
      iat,
      exp: iat + lifetime,
      aud: AUDIENCE,
      jti: g.jti,
      redirect_uris: redirectUris,
      token_endpoint_auth_method: g.authMethod,
      grant_types: g.grants,
      software_statement: SSA_JWS,
      application_type: g.applicationType,
      id_token_signed_response_alg: g.algs.id,
      request_object_signing_alg: g.algs.ro,
      scope: scopes.join(' '),
    };
    if (g.authMethod === 'tls_client_auth') claims.tls_client_auth_subject_dn = dn;
    if (g.authMethod === 'private_key_jwt' || g.sendSigningAlg) claims.token_endpoint_auth_signing_alg = g.algs.te;
    if (hasCode && g.responseTypes) claims.response_types = g.responseTypes;
    if (g.sendSoftwareId) claims.software_id = g.softwareId;
    const ssa = obieSsa({
      iat: NOW - g.ssaAge,
      software_id: g.softwareId,
      org_id: g.orgId,
      software_roles: g.roles,
      software_redirect_uris: g.ssaUris,
      organisation_competent_authority_claims: { status: 'Active', authorisations: [{ member_state: 'GB', roles: g.roles }] },
    });
    return {
      input: input({ claims, ssa, subject: certDn, policy: { audiences: [AUDIENCE], ssaIssuers: [SSA_ISSUER], now: NOW } }),
      roles: g.roles,
      ssaUris: g.ssaUris,
    };
  });

function rejectionCode(run: () => unknown): RejectionCode | 'passed' | 'other-error' {
  try {
    run();
    return 'passed';
  } catch (error) {
    return error instanceof RegistrationRejection ? error.error : 'other-error';
  }
}

function withClaims(s: Scenario, change: (claims: Record<string, unknown>) => void): MetadataInput {
  const claims = { ...s.input.claims };
  change(claims);
  return { ...s.input, claims };
}

const RUNS = { numRuns: 300 };

describe('property: valid OBIE 3.3 registrations', () => {
  it('pass, keep the requested redirect URIs and scope within the roles', () => {
    fc.assert(
      fc.property(validRegistration, (s) => {
        const metadata = validateRegistrationMetadata(s.input);
        expect(metadata.redirect_uris).toEqual(s.input.claims.redirect_uris);
        const allowed = new Set(['openid', ...s.roles.flatMap((r) => OBIE_ROLE_SCOPES[r] ?? [])]);
        for (const token of metadata.scope.split(' ')) expect(allowed.has(token)).toBe(true);
        expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
        if ((metadata.grant_types as string[]).includes('authorization_code')) expect(metadata.response_types.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });
});

describe('property: single mutations fail with the right code', () => {
  const REQUIRED = [
    'iss', 'iat', 'exp', 'aud', 'jti', 'redirect_uris', 'token_endpoint_auth_method', 'grant_types',
    'scope', 'software_statement', 'application_type', 'id_token_signed_response_alg', 'request_object_signing_alg',
  ];

  it('dropping a required claim → invalid_client_metadata', () => {
    fc.assert(
      fc.property(validRegistration, fc.constantFrom(...REQUIRED), (s, name) => {
        expect(rejectionCode(() => validateRegistrationMetadata(withClaims(s, (c) => delete c[name])))).toBe('invalid_client_metadata');
      }),
      RUNS,
    );
  });

  it('dropping a required SSA claim → invalid_software_statement', () => {
    fc.assert(
      fc.property(validRegistration, fc.constantFrom('software_id', 'org_id', 'software_roles', 'software_redirect_uris', 'software_jwks_endpoint'), (s, name) => {
        const ssa = { ...s.input.ssa };
        delete ssa[name];
        expect(rejectionCode(() => validateRegistrationMetadata({ ...s.input, ssa }))).toBe('invalid_software_statement');
      }),
      RUNS,
    );
  });

  it('a redirect URI not in the SSA → invalid_redirect_uri', () => {
    fc.assert(
      fc.property(validRegistration, httpsUri, (s, extra) => {
        fc.pre(!s.ssaUris.includes(extra));
        const mutated = withClaims(s, (c) => (c.redirect_uris = [...(c.redirect_uris as string[]), extra]));
        expect(rejectionCode(() => validateRegistrationMetadata(mutated))).toBe('invalid_redirect_uri');
      }),
      RUNS,
    );
  });

  it('a localhost, loopback, http or fragment redirect URI → invalid_redirect_uri (even when the SSA lists it)', () => {
    const bad = fc.oneof(
      fc.constantFrom('https://localhost/cb', 'https://127.0.0.1/cb', 'https://[::1]/cb', 'https://app.localhost/x', 'https://LOCALHOST./cb'),
      httpsUri.map((u) => u.replace('https://', 'http://')),
      httpsUri.map((u) => `${u}#frag`),
    );
    fc.assert(
      fc.property(validRegistration, bad, fc.nat(), (s, uri, at) => {
        const list = [...(s.input.claims.redirect_uris as string[])];
        list[at % list.length] = uri;
        const ssa = { ...s.input.ssa, software_redirect_uris: [...s.ssaUris, uri] };
        const mutated = { ...withClaims(s, (c) => (c.redirect_uris = list)), ssa };
        expect(rejectionCode(() => validateRegistrationMetadata(mutated))).toBe('invalid_redirect_uri');
      }),
      RUNS,
    );
  });

  it('a disallowed algorithm → invalid_client_metadata', () => {
    fc.assert(
      fc.property(
        validRegistration,
        fc.constantFrom('id_token_signed_response_alg', 'request_object_signing_alg', 'token_endpoint_auth_signing_alg'),
        fc.constantFrom('RS256', 'RS512', 'HS256', 'none', 'ES384', 'EdDSA', 'PS512', 'ps256', ''),
        (s, name, alg) => {
          expect(rejectionCode(() => validateRegistrationMetadata(withClaims(s, (c) => (c[name] = alg))))).toBe('invalid_client_metadata');
        },
      ),
      RUNS,
    );
  });

  it('a scope outside the roles → invalid_client_metadata', () => {
    const outside = fc.constantFrom('accounts', 'payments', 'fundsconfirmations', 'admin', 'offline_access', 'profile');
    fc.assert(
      fc.property(validRegistration, outside, (s, extra) => {
        const allowed = s.roles.flatMap((r) => OBIE_ROLE_SCOPES[r] ?? []);
        fc.pre(!allowed.includes(extra));
        const mutated = withClaims(s, (c) => (c.scope = `${c.scope as string} ${extra}`));
        expect(rejectionCode(() => validateRegistrationMetadata(mutated))).toBe('invalid_client_metadata');
      }),
      RUNS,
    );
  });

  it('an unknown grant type → invalid_client_metadata', () => {
    const grant = fc.oneof(
      fc.constantFrom('implicit', 'password', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'Authorization_Code', ''),
      fc.string({ minLength: 1, maxLength: 20 }).filter((g) => !['authorization_code', 'client_credentials', 'refresh_token', 'urn:openid:params:grant-type:ciba'].includes(g)),
    );
    fc.assert(
      fc.property(validRegistration, grant, (s, extra) => {
        const mutated = withClaims(s, (c) => (c.grant_types = [...(c.grant_types as string[]), extra]));
        expect(rejectionCode(() => validateRegistrationMetadata(mutated))).toBe('invalid_client_metadata');
      }),
      RUNS,
    );
  });

  it('an iss other than the SSA software_id, or an expired request → invalid_client_metadata', () => {
    fc.assert(
      fc.property(validRegistration, base62(1, 22), fc.integer({ min: 31, max: 10_000 }), (s, iss, late) => {
        fc.pre(iss !== s.input.claims.iss);
        expect(rejectionCode(() => validateRegistrationMetadata(withClaims(s, (c) => (c.iss = iss))))).toBe('invalid_client_metadata');
        const exp = NOW - late;
        expect(rejectionCode(() => validateRegistrationMetadata(withClaims(s, (c) => ((c.exp = exp), (c.iat = exp - 3600)))))).toBe('invalid_client_metadata');
      }),
      RUNS,
    );
  });

  it('arbitrary JSON values in claims never escape as anything but a RegistrationRejection', () => {
    fc.assert(
      fc.property(
        validRegistration,
        fc.constantFrom(
          'iss', 'aud', 'jti', 'iat', 'exp', 'redirect_uris', 'grant_types', 'response_types', 'scope', 'token_endpoint_auth_method',
          'tls_client_auth_subject_dn', 'application_type', 'jwks_uri', 'software_id', 'client_name', 'contacts', 'backchannel_token_delivery_mode',
        ),
        fc.jsonValue(),
        (s, name, value) => {
          const code = rejectionCode(() => validateRegistrationMetadata(withClaims(s, (c) => (c[name] = value))));
          expect(code).not.toBe('other-error');
        },
      ),
      { numRuns: 500 },
    );
  });
});
