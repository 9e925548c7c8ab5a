import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { getProfile } from '../../core/profiles/index.js';
import { asDiscoveryMembers, createAsTokenVerifier, type AsTokenVerifierDeps } from '../../services/intake/as-tokens.js';

const base = { DCR_DATA_DIR: '/tmp/dcr-as-config', DCR_SANDBOX: '1' };

describe('authorization server configuration (DCR_AS_*)', () => {
  it('defaults: no AS, the sandbox AS port 8445, sandbox provisioning in the sandbox', () => {
    const config = loadConfig(base);
    expect(config.as).toEqual({ port: 8445, provisioning: 'sandbox', eventGroups: [], keycloak: {} });
  });

  it('DCR_AS_PROVISIONING: required outside the sandbox, one of the adapters, each with what it needs', () => {
    const prod = { DCR_DATA_DIR: '/tmp/dcr-as-config', DCR_SANDBOX: '0', DCR_DIRECTORY_JWKS_URL: 'https://dir.example/jwks', DCR_CLIENT_CA_FILE: '/dev/null' };
    const failure = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return 'loaded';
      } catch (error) {
        return error instanceof ConfigurationError ? error.message : String(error);
      }
    };
    expect(failure(prod)).toMatch(/^DCR_AS_PROVISIONING: required when DCR_SANDBOX=0 \(how clients reach the bank's authorization server\)\. Trust is never implied outside the sandbox/);
    expect(failure({ ...prod, DCR_AS_PROVISIONING: 'ldap' })).toMatch(/^DCR_AS_PROVISIONING: must be one of sandbox, keycloak, events, store/);
    expect(failure({ ...prod, DCR_AS_PROVISIONING: 'sandbox' })).toMatch(/^DCR_AS_PROVISIONING: sandbox provisions into the sandbox AS/);
    expect(failure({ ...prod, DCR_AS_PROVISIONING: 'keycloak' })).toMatch(/^DCR_KEYCLOAK_URL: required with DCR_AS_PROVISIONING=keycloak/);
    expect(failure({ ...prod, DCR_AS_PROVISIONING: 'events' })).toMatch(/^DCR_AS_EVENT_GROUPS: required/);
    expect(loadConfig({ ...prod, DCR_AS_PROVISIONING: 'store' }).as.provisioning).toBe('store');
    const keycloak = loadConfig({
      ...prod,
      DCR_AS_PROVISIONING: 'keycloak',
      DCR_KEYCLOAK_URL: 'https://kc.bank.example:8443/',
      DCR_KEYCLOAK_REALM: 'openbanking',
      DCR_KEYCLOAK_CLIENT_ID: 'dcr-provisioner',
      DCR_KEYCLOAK_CLIENT_SECRET: 'secret',
    });
    expect(keycloak.as.keycloak).toEqual({ url: 'https://kc.bank.example:8443', realm: 'openbanking', clientId: 'dcr-provisioner', clientSecret: 'secret' });
    expect(keycloak.allowedFetchHosts).toContain('kc.bank.example:8443');
  });

  it('reads issuer, JWKS and introspection, and allow-lists their hosts for the outbound fetcher', () => {
    const config = loadConfig({
      ...base,
      DCR_AS_ISSUER: 'https://as.bank.example/',
      DCR_AS_JWKS_URL: 'https://keys.bank.example/jwks',
      DCR_AS_INTROSPECTION_URL: 'https://as.bank.example:9443/introspect',
      DCR_AS_INTROSPECTION_CLIENT_ID: 'dcr',
      DCR_AS_INTROSPECTION_CLIENT_SECRET: 's3cret',
      DCR_AS_PORT: '9445',
    });
    expect(config.as).toEqual({
      issuer: 'https://as.bank.example',
      jwksUrl: 'https://keys.bank.example/jwks',
      introspectionUrl: 'https://as.bank.example:9443/introspect',
      introspectionClientId: 'dcr',
      introspectionClientSecret: 's3cret',
      port: 9445,
      provisioning: 'sandbox',
      eventGroups: [],
      keycloak: {},
    });
    expect(config.allowedFetchHosts).toEqual(expect.arrayContaining(['keys.bank.example', 'as.bank.example:9443']));
  });

  it.each([
    [{ DCR_AS_JWKS_URL: 'http://keys.bank.example/jwks', DCR_AS_ISSUER: 'https://as' }, 'DCR_AS_JWKS_URL'],
    [{ DCR_AS_JWKS_URL: 'https://keys.bank.example/jwks' }, 'DCR_AS_ISSUER'],
    [{ DCR_AS_INTROSPECTION_URL: 'https://as.bank.example/introspect' }, 'DCR_AS_INTROSPECTION_CLIENT_ID'],
    [{ DCR_AS_PORT: 'x' }, 'DCR_AS_PORT'],
  ])('%j is refused naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toContain(variable);
  });
});

describe('AS token verifier selection', () => {
  const deps = (profile: string, env: Record<string, string>): AsTokenVerifierDeps => {
    const config = loadConfig({ ...base, DCR_PROFILE: profile, ...env });
    return {
      config,
      profile: getProfile(config.profile),
      keys: { resolve: () => Promise.reject(new Error('not used')) },
      fetcher: { request: () => Promise.reject(new Error('not used')) },
    };
  };
  const as = { DCR_AS_ISSUER: 'https://as.bank.example', DCR_AS_JWKS_URL: 'https://as.bank.example/jwks' };

  it('OBIE and CDR take AS tokens when an AS is configured; RAT-only profiles and unconfigured deployments do not', () => {
    expect(createAsTokenVerifier(deps('obie-3.3', as))).not.toBeNull();
    expect(createAsTokenVerifier(deps('cdr', as))).not.toBeNull();
    expect(createAsTokenVerifier(deps('fapi2', as))).toBeNull();
    expect(createAsTokenVerifier(deps('rfc7591', as))).toBeNull();
    expect(createAsTokenVerifier(deps('obie-3.3', {}))).toBeNull();
  });

  it('refuses a token that is neither a JWT nor introspectable without touching the network', async () => {
    const verifier = createAsTokenVerifier(deps('obie-3.3', as));
    expect(await verifier?.verify('opaque-token', { clientId: 'c1', certificateThumbprint: null })).toEqual({ ok: false, reason: 'not a JWT access token' });
  });

  it('discovery members: token_endpoint and the mTLS alias, keeping the registration endpoint alias', () => {
    expect(asDiscoveryMembers({ token_endpoint: 'https://as/token', mtls_endpoint_aliases: { token_endpoint: 'https://mtls.as/token' } }, 'https://dcr/register')).toEqual({
      token_endpoint: 'https://as/token',
      mtls_endpoint_aliases: { token_endpoint: 'https://mtls.as/token', registration_endpoint: 'https://dcr/register' },
    });
  });
});
