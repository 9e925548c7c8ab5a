import { Compile } from 'typebox/compile';
import { ConfigurationError } from '../../core/domain/errors.js';
import { AS_PROVISIONING_MODES } from '../../core/ports/authorization-server.js';
import { isProfileName, PROFILES } from '../../core/profiles/index.js';
import { ConfigSchema, PROFILE_NAMES, REVOCATION_CHECKS, TRACES_SAMPLERS, type Config } from './schema.js';

const validator = Compile(ConfigSchema);

/** The issuer the sandbox directory signs SSAs as in profiles without a directory of their own (sandbox/directory-sandbox/ssa.ts). */
const SANDBOX_SSA_ISSUER = 'OpenBanking Ltd';

type Env = Record<string, string | undefined>;

/** Maps a path in {@link Config} back to the environment variable that sets it, for error lines. */
const VARIABLE_OF: Record<string, string> = {
  '/host': 'DCR_HOST',
  '/httpsPort': 'DCR_HTTPS_PORT',
  '/publicUrl': 'DCR_PUBLIC_URL',
  '/tls/certFile': 'DCR_TLS_CERT_FILE',
  '/tls/keyFile': 'DCR_TLS_KEY_FILE',
  '/tls/clientCaFile': 'DCR_CLIENT_CA_FILE',
  '/clientCertHeader': 'DCR_CLIENT_CERT_HEADER',
  '/trustedProxies': 'DCR_TRUSTED_PROXIES',
  '/directoryJwksUrl': 'DCR_DIRECTORY_JWKS_URL',
  '/ssaIssuers': 'DCR_SSA_ISSUER',
  '/audiences': 'DCR_AUDIENCE',
  '/profile': 'DCR_PROFILE',
  '/allowedFetchHosts': 'DCR_ALLOWED_FETCH_HOSTS',
  '/outboundCaFile': 'DCR_OUTBOUND_CA_FILE',
  '/sandbox': 'DCR_SANDBOX',
  '/sandboxPort': 'DCR_SANDBOX_PORT',
  '/sandboxUrl': 'DCR_SANDBOX_BASE_URL',
  '/syncWaitMs': 'DCR_SYNC_WAIT_MS',
  '/admin/host': 'DCR_ADMIN_HOST',
  '/admin/port': 'DCR_ADMIN_PORT',
  '/admin/token': 'DCR_ADMIN_TOKEN',
  '/mongoUrl': 'DCR_MONGO_URL',
  '/redisUrl': 'DCR_REDIS_URL',
  '/kafkaBrokers': 'DCR_KAFKA_BROKERS',
  '/namespace': 'DCR_NAMESPACE',
  '/dataDir': 'DCR_DATA_DIR',
  '/tokenSealingKey': 'DCR_TOKEN_SEALING_KEY',
  '/leewaySeconds': 'DCR_LEEWAY_SECONDS',
  '/maxRequestLifetimeSeconds': 'DCR_MAX_REQUEST_LIFETIME_SECONDS',
  '/ssaMaxAgeSeconds': 'DCR_SSA_MAX_AGE_SECONDS',
  '/rotateRegistrationToken': 'DCR_ROTATE_REGISTRATION_TOKEN',
  '/stageAttempts': 'DCR_STAGE_ATTEMPTS',
  '/retryBaseDelayMs': 'DCR_RETRY_BASE_DELAY_MS',
  '/workerConcurrency': 'DCR_WORKER_CONCURRENCY',
  '/fetch/connectTimeoutMs': 'DCR_FETCH_CONNECT_TIMEOUT_MS',
  '/fetch/totalTimeoutMs': 'DCR_FETCH_TIMEOUT_MS',
  '/fetch/maxBytes': 'DCR_FETCH_MAX_BYTES',
  '/fetch/cacheMaxAgeSeconds': 'DCR_FETCH_CACHE_MAX_AGE_SECONDS',
  '/resultTtlSeconds': 'DCR_RESULT_TTL_SECONDS',
  '/revocation/checks': 'DCR_REVOCATION_CHECKS',
  '/revocation/softFail': 'DCR_REVOCATION_SOFT_FAIL',
  '/revocation/statusUrl': 'DCR_DIRECTORY_STATUS_URL',
  '/revocation/ocspUnknown': 'DCR_OCSP_UNKNOWN',
  '/logLevel': 'DCR_LOG_LEVEL',
  '/logFormat': 'DCR_LOG_FORMAT',
  '/as/issuer': 'DCR_AS_ISSUER',
  '/as/jwksUrl': 'DCR_AS_JWKS_URL',
  '/as/introspectionUrl': 'DCR_AS_INTROSPECTION_URL',
  '/as/introspectionClientId': 'DCR_AS_INTROSPECTION_CLIENT_ID',
  '/as/introspectionClientSecret': 'DCR_AS_INTROSPECTION_CLIENT_SECRET',
  '/as/port': 'DCR_AS_PORT',
  '/as/tokenAudiences': 'DCR_AS_TOKEN_AUDIENCE',
  '/as/provisioning': 'DCR_AS_PROVISIONING',
  '/as/eventGroups': 'DCR_AS_EVENT_GROUPS',
  '/as/keycloak/url': 'DCR_KEYCLOAK_URL',
  '/as/keycloak/realm': 'DCR_KEYCLOAK_REALM',
  '/as/keycloak/clientId': 'DCR_KEYCLOAK_CLIENT_ID',
  '/as/keycloak/clientSecret': 'DCR_KEYCLOAK_CLIENT_SECRET',
  '/relayIntervalMs': 'DCR_RELAY_INTERVAL_MS',
  '/queueLeaseMs': 'DCR_QUEUE_LEASE_MS',
  '/reconcile/intervalMs': 'DCR_RECONCILE_INTERVAL_MS',
  '/reconcile/afterMs': 'DCR_RECONCILE_AFTER_MS',
  '/protection/rateLimitPerMinute': 'DCR_RATE_LIMIT_PER_MINUTE',
  '/protection/maxEventLoopDelayMs': 'DCR_MAX_EVENT_LOOP_DELAY_MS',
  '/protection/maxHeapUsedBytes': 'DCR_MAX_HEAP_USED_BYTES',
  '/validatorsFile': 'DCR_VALIDATORS_FILE',
  '/httpTimeouts/headersMs': 'DCR_HEADERS_TIMEOUT_MS',
  '/httpTimeouts/requestMs': 'DCR_REQUEST_TIMEOUT_MS',
  '/retention/rejectedSeconds': 'DCR_RETENTION_REJECTED_SECONDS',
  '/retention/auditSeconds': 'DCR_RETENTION_AUDIT_SECONDS',
  '/retention/maxInFlightPerTpp': 'DCR_MAX_IN_FLIGHT_PER_TPP',
  '/retention/purgeIntervalSeconds': 'DCR_RETENTION_PURGE_INTERVAL_SECONDS',
  '/notifier/webhookUrl': 'DCR_NOTIFIER_WEBHOOK_URL',
  '/notifier/webhookSecret': 'DCR_NOTIFIER_WEBHOOK_SECRET',
  '/notifier/maxAttempts': 'DCR_NOTIFIER_MAX_ATTEMPTS',
  '/notifier/retryBaseDelayMs': 'DCR_NOTIFIER_RETRY_BASE_DELAY_MS',
  '/notifier/timeoutMs': 'DCR_NOTIFIER_TIMEOUT_MS',
  '/tracing/exporters': 'OTEL_TRACES_EXPORTER',
  '/tracing/endpoint': 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  '/tracing/protocol': 'OTEL_EXPORTER_OTLP_PROTOCOL',
  '/tracing/timeoutMs': 'OTEL_EXPORTER_OTLP_TIMEOUT',
  '/tracing/serviceName': 'OTEL_SERVICE_NAME',
  '/tracing/sampler': 'OTEL_TRACES_SAMPLER',
  '/tracing/samplerRatio': 'OTEL_TRACES_SAMPLER_ARG',
};

function list(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function integer(variable: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^-?[0-9]+$/.test(value.trim())) throw new ConfigurationError(variable, `must be an integer, got '${value}'`);
  return Number.parseInt(value, 10);
}

function bool(variable: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) return false;
  throw new ConfigurationError(variable, `must be 1 or 0, got '${value}'`);
}

function nullableInteger(variable: string, value: string | undefined): number | null | undefined {
  if (value !== undefined && ['off', 'none', ''].includes(value.trim().toLowerCase())) return value.trim() === '' ? undefined : null;
  return integer(variable, value);
}

/**
 * The profile's trusted SSA issuers (`ssa.defaultIssuers`). A profile without a directory of its own
 * (fapi2, rfc7591) trusts the sandbox directory's issuer in the sandbox; outside it, DCR_SSA_ISSUER
 * is required where the profile requires an SSA.
 */
function defaultSsaIssuers(profile: string, sandbox: boolean): string[] {
  if (!isProfileName(profile)) return [];
  const { defaultIssuers, required } = PROFILES[profile].ssa;
  if (defaultIssuers.length) return [...defaultIssuers];
  if (sandbox) return [SANDBOX_SSA_ISSUER];
  if (required) throw new ConfigurationError('DCR_SSA_ISSUER', `is required with DCR_PROFILE=${profile} (the profile has no default SSA issuer)`);
  return [];
}

/** `DCR_ROTATE_REGISTRATION_TOKEN` against the profile's rule (RFC 7592 §2.2; Open Finance Brasil forbids rotation). */
function rotation(profile: string, configured: boolean | undefined): boolean | undefined {
  if (configured === true && isProfileName(profile) && PROFILES[profile].management.tokenRotation === 'forbidden') {
    throw new ConfigurationError('DCR_ROTATE_REGISTRATION_TOKEN', `must not be 1 with DCR_PROFILE=${profile}: the profile forbids rotating the registration access token`);
  }
  return configured;
}

/** A comma-separated list where `none` means the empty list. */
function noneOrList(value: string | undefined): string[] | undefined {
  if (value !== undefined && value.trim().toLowerCase() === 'none') return [];
  return list(value);
}

/**
 * `DCR_REVOCATION_CHECKS` / `DCR_REVOCATION_SOFT_FAIL`. `ssa-status` was a revocation check until
 * the SSA's status claims got one owner, the verifier (always on): naming it is a configuration
 * error that says so, not a silently ignored value.
 */
function revocationChecks(variable: string, value: string | undefined): string[] | undefined {
  const names = noneOrList(value);
  if (names?.includes('ssa-status')) {
    throw new ConfigurationError(variable, "'ssa-status' is no longer a revocation check: the SSA's org_status and role statuses are judged by the verifier, always; remove it");
  }
  return names;
}

/**
 * `DCR_DIRECTORY_STATUS_URL`: explicit value, `off`/`none` to disable, else the sandbox directory's
 * Register-shaped status API in sandbox mode, else none.
 */
function directoryStatusUrl(env: Env, sandbox: boolean, sandboxPort: number): string | undefined {
  const value = env.DCR_DIRECTORY_STATUS_URL?.trim();
  if (value !== undefined && value !== '') return ['off', 'none'].includes(value.toLowerCase()) ? undefined : value.replace(/\/+$/, '');
  if (!sandbox) return undefined;
  const base = (env.DCR_SANDBOX_BASE_URL ?? `https://localhost:${sandboxPort}`).replace(/\/+$/, '');
  return `${base}/cdr-register/v1/banking`;
}

/** The AS's JWKS, introspection and Keycloak admin hosts join the outbound allow-list (like the directory's host). */
function withAsHosts(env: Env, hosts: string[]): string[] {
  const out = [...hosts];
  for (const url of [env.DCR_AS_JWKS_URL, env.DCR_AS_INTROSPECTION_URL, env.DCR_KEYCLOAK_URL]) {
    try {
      const u = url?.trim() ? new URL(url.trim()) : null;
      if (u?.protocol === 'https:' && !out.includes(u.host)) out.push(u.host);
    } catch {
      // an invalid URL is reported by the schema check
    }
  }
  return out;
}

/**
 * `key=value,key2=value2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES). The error never repeats the value: headers may hold an API key.
 */
function keyValues(variable: string, value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(value) ?? []) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!key) throw new ConfigurationError(variable, 'must be a comma-separated list of key=value pairs');
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new ConfigurationError(variable, `the value of '${key}' is not valid percent-encoding`);
    }
  }
  return out;
}

/**
 * The standard OpenTelemetry SDK variables (OpenTelemetry specification, "Environment Variable
 * Specification" and "OTLP Exporter Configuration"), with the tracing switch: on when an OTLP
 * endpoint or OTEL_TRACES_EXPORTER is set, off by default and with OTEL_SDK_DISABLED=true.
 */
function tracingConfig(env: Env): Config['tracing'] {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() ?? '';
  if (!['', 'true', 'false'].includes(disabled)) throw new ConfigurationError('OTEL_SDK_DISABLED', `must be true or false, got '${env.OTEL_SDK_DISABLED}'`);
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || undefined;
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  const named = list(env.OTEL_TRACES_EXPORTER)?.map((e) => e.toLowerCase());
  for (const e of named ?? []) {
    if (!['otlp', 'console', 'none'].includes(e)) throw new ConfigurationError('OTEL_TRACES_EXPORTER', `'${e}' is not supported: use otlp, console or none`);
  }
  const exporters = named ? (named.includes('none') ? [] : [...new Set(named)]) : tracesEndpoint || baseEndpoint ? ['otlp'] : [];
  const endpointVariable = tracesEndpoint ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  // The signal-specific URL is used as is; the base one gets the traces path (OTLP/HTTP: /v1/traces).
  const endpoint = tracesEndpoint ?? (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces');
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) throw new ConfigurationError(endpointVariable, `must be an http:// or https:// URL, got '${endpoint}'`);
  if (url.username || url.password) throw new ConfigurationError(endpointVariable, 'must not carry credentials (use OTEL_EXPORTER_OTLP_HEADERS)');
  const protocolVariable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf').toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigurationError(protocolVariable, `'${protocol}' is not supported: use http/protobuf (the default) or http/json (OTLP over HTTP)`);
  }
  const timeoutVariable = env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT?.trim() ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const sampler = (env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on').toLowerCase();
  if (!(TRACES_SAMPLERS as readonly string[]).includes(sampler)) throw new ConfigurationError('OTEL_TRACES_SAMPLER', `must be one of ${TRACES_SAMPLERS.join(', ')}, got '${sampler}'`);
  const ratioText = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const samplerRatio = ratioText ? Number(ratioText) : 1;
  if (!Number.isFinite(samplerRatio) || samplerRatio < 0 || samplerRatio > 1) {
    throw new ConfigurationError('OTEL_TRACES_SAMPLER_ARG', `must be a number from 0 to 1, got '${ratioText}'`);
  }
  return defined({
    enabled: disabled !== 'true' && exporters.length > 0,
    exporters: exporters as Config['tracing']['exporters'],
    endpoint,
    protocol,
    headers: { ...keyValues('OTEL_EXPORTER_OTLP_HEADERS', env.OTEL_EXPORTER_OTLP_HEADERS), ...keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
    timeoutMs: integer(timeoutVariable, env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT?.trim() || env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? 10_000,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined,
    resourceAttributes: keyValues('OTEL_RESOURCE_ATTRIBUTES', env.OTEL_RESOURCE_ATTRIBUTES),
    sampler: sampler as Config['tracing']['sampler'],
    samplerRatio,
  });
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Builds the configuration from environment variables, applying the documented defaults.
 * Throws {@link ConfigurationError} naming the first invalid variable.
 */
export interface LoadOptions {
  /**
   * Sandbox mode when neither `DCR_SANDBOX` nor any trust variable is set. Only the sandbox entry
   * points (`npm start`, `sandbox/service/main.ts`) pass it: a production process missing its trust
   * configuration refuses to start instead of trusting a CA it generated itself.
   */
  sandboxByDefault?: boolean;
}

/** The variables a process outside the sandbox cannot start without, and what each one is for. */
const REQUIRED_OUTSIDE_SANDBOX = [
  ['DCR_DIRECTORY_JWKS_URL', 'the directory whose SSAs are trusted'],
  ['DCR_CLIENT_CA_FILE', 'the CAs whose client certificates are accepted'],
  ['DCR_AS_PROVISIONING', "how clients reach the bank's authorization server"],
] as const;

export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const httpsPort = integer('DCR_HTTPS_PORT', env.DCR_HTTPS_PORT) ?? 8443;
  const publicUrl = (env.DCR_PUBLIC_URL ?? `https://localhost:${httpsPort === 0 ? 8443 : httpsPort}`).replace(/\/+$/, '');
  const trustConfigured = env.DCR_DIRECTORY_JWKS_URL !== undefined || env.DCR_CLIENT_CA_FILE !== undefined;
  const sandbox = bool('DCR_SANDBOX', env.DCR_SANDBOX) ?? (options.sandboxByDefault === true && !trustConfigured);
  if (!sandbox) {
    const missing = REQUIRED_OUTSIDE_SANDBOX.filter(([variable]) => !env[variable]?.trim());
    if (missing.length > 0) {
      const [[variable, why], ...others] = missing as [(typeof missing)[number], ...(typeof missing)[number][]];
      const also = others.length > 0 ? `; also missing: ${others.map(([v, w]) => `${v} (${w})`).join(', ')}` : '';
      throw new ConfigurationError(variable, `required (${why})${also}. Trust is never implied outside the sandbox: \`npm start\` runs the sandbox`);
    }
  }
  const profile = env.DCR_PROFILE ?? 'obie-3.3';
  if (!(PROFILE_NAMES as readonly string[]).includes(profile)) {
    throw new ConfigurationError('DCR_PROFILE', `must be one of ${PROFILE_NAMES.join(', ')}, got '${profile}'`);
  }
  const sandboxPort = integer('DCR_SANDBOX_PORT', env.DCR_SANDBOX_PORT) ?? 8444;

  const candidate = {
    host: env.DCR_HOST ?? '127.0.0.1',
    httpsPort,
    publicUrl,
    tls: defined({
      certFile: env.DCR_TLS_CERT_FILE,
      keyFile: env.DCR_TLS_KEY_FILE,
      clientCaFile: env.DCR_CLIENT_CA_FILE,
    }),
    clientCertHeader: env.DCR_CLIENT_CERT_HEADER || undefined,
    trustedProxies: list(env.DCR_TRUSTED_PROXIES) ?? [],
    directoryJwksUrl: env.DCR_DIRECTORY_JWKS_URL,
    // The profile's directory issuer unless configured (cdr: `cdr-register`; SPEC §8 "SSA issuer").
    ssaIssuers: list(env.DCR_SSA_ISSUER) ?? defaultSsaIssuers(profile, sandbox),
    audiences: list(env.DCR_AUDIENCE) ?? [publicUrl],
    profile,
    allowedFetchHosts: withAsHosts(env, list(env.DCR_ALLOWED_FETCH_HOSTS) ?? []),
    outboundCaFile: env.DCR_OUTBOUND_CA_FILE,
    sandbox,
    sandboxPort,
    sandboxUrl: (env.DCR_SANDBOX_BASE_URL ?? `https://localhost:${sandboxPort}`).replace(/\/+$/, ''),
    syncWaitMs: integer('DCR_SYNC_WAIT_MS', env.DCR_SYNC_WAIT_MS) ?? 5000,
    admin: defined({
      host: env.DCR_ADMIN_HOST ?? '127.0.0.1',
      port: integer('DCR_ADMIN_PORT', env.DCR_ADMIN_PORT) ?? 8081,
      token: env.DCR_ADMIN_TOKEN,
    }),
    mongoUrl: env.DCR_MONGO_URL || undefined,
    redisUrl: env.DCR_REDIS_URL || undefined,
    kafkaBrokers: list(env.DCR_KAFKA_BROKERS),
    namespace: env.DCR_NAMESPACE ?? '',
    dataDir: env.DCR_DATA_DIR ?? './var',
    tokenSealingKey: env.DCR_TOKEN_SEALING_KEY,
    leewaySeconds: integer('DCR_LEEWAY_SECONDS', env.DCR_LEEWAY_SECONDS) ?? 30,
    maxRequestLifetimeSeconds: integer('DCR_MAX_REQUEST_LIFETIME_SECONDS', env.DCR_MAX_REQUEST_LIFETIME_SECONDS) ?? 3600,
    ssaMaxAgeSeconds: nullableInteger('DCR_SSA_MAX_AGE_SECONDS', env.DCR_SSA_MAX_AGE_SECONDS),
    rotateRegistrationToken: rotation(profile, bool('DCR_ROTATE_REGISTRATION_TOKEN', env.DCR_ROTATE_REGISTRATION_TOKEN)),
    stageAttempts: integer('DCR_STAGE_ATTEMPTS', env.DCR_STAGE_ATTEMPTS) ?? 5,
    retryBaseDelayMs: integer('DCR_RETRY_BASE_DELAY_MS', env.DCR_RETRY_BASE_DELAY_MS) ?? 1000,
    workerConcurrency: integer('DCR_WORKER_CONCURRENCY', env.DCR_WORKER_CONCURRENCY) ?? 16,
    fetch: {
      connectTimeoutMs: integer('DCR_FETCH_CONNECT_TIMEOUT_MS', env.DCR_FETCH_CONNECT_TIMEOUT_MS) ?? 2000,
      totalTimeoutMs: integer('DCR_FETCH_TIMEOUT_MS', env.DCR_FETCH_TIMEOUT_MS) ?? 5000,
      maxBytes: integer('DCR_FETCH_MAX_BYTES', env.DCR_FETCH_MAX_BYTES) ?? 256 * 1024,
      cacheMaxAgeSeconds: integer('DCR_FETCH_CACHE_MAX_AGE_SECONDS', env.DCR_FETCH_CACHE_MAX_AGE_SECONDS) ?? 300,
    },
    resultTtlSeconds: integer('DCR_RESULT_TTL_SECONDS', env.DCR_RESULT_TTL_SECONDS) ?? 86_400,
    validatorsFile: env.DCR_VALIDATORS_FILE?.trim() || undefined,
    revocation: defined({
      checks: revocationChecks('DCR_REVOCATION_CHECKS', env.DCR_REVOCATION_CHECKS) ?? [...REVOCATION_CHECKS],
      softFail: revocationChecks('DCR_REVOCATION_SOFT_FAIL', env.DCR_REVOCATION_SOFT_FAIL) ?? [],
      statusUrl: directoryStatusUrl(env, sandbox, sandboxPort),
      ocspUnknown: env.DCR_OCSP_UNKNOWN ?? 'retry',
    }),
    httpTimeouts: {
      headersMs: integer('DCR_HEADERS_TIMEOUT_MS', env.DCR_HEADERS_TIMEOUT_MS) ?? 10_000,
      requestMs: integer('DCR_REQUEST_TIMEOUT_MS', env.DCR_REQUEST_TIMEOUT_MS) ?? 30_000,
    },
    retention: {
      rejectedSeconds: integer('DCR_RETENTION_REJECTED_SECONDS', env.DCR_RETENTION_REJECTED_SECONDS) ?? 86_400,
      // five years (365.25-day years), the usual payment-services record-keeping period
      auditSeconds: integer('DCR_RETENTION_AUDIT_SECONDS', env.DCR_RETENTION_AUDIT_SECONDS) ?? 157_788_000,
      maxInFlightPerTpp: integer('DCR_MAX_IN_FLIGHT_PER_TPP', env.DCR_MAX_IN_FLIGHT_PER_TPP) ?? 50,
      purgeIntervalSeconds: integer('DCR_RETENTION_PURGE_INTERVAL_SECONDS', env.DCR_RETENTION_PURGE_INTERVAL_SECONDS) ?? 600,
    },
    notifier: defined({
      webhookUrl: env.DCR_NOTIFIER_WEBHOOK_URL || undefined,
      webhookSecret: env.DCR_NOTIFIER_WEBHOOK_SECRET || undefined,
      maxAttempts: integer('DCR_NOTIFIER_MAX_ATTEMPTS', env.DCR_NOTIFIER_MAX_ATTEMPTS) ?? 5,
      retryBaseDelayMs: integer('DCR_NOTIFIER_RETRY_BASE_DELAY_MS', env.DCR_NOTIFIER_RETRY_BASE_DELAY_MS) ?? 1000,
      timeoutMs: integer('DCR_NOTIFIER_TIMEOUT_MS', env.DCR_NOTIFIER_TIMEOUT_MS) ?? 5000,
    }),
    protection: {
      rateLimitPerMinute: integer('DCR_RATE_LIMIT_PER_MINUTE', env.DCR_RATE_LIMIT_PER_MINUTE) ?? 600,
      maxEventLoopDelayMs: integer('DCR_MAX_EVENT_LOOP_DELAY_MS', env.DCR_MAX_EVENT_LOOP_DELAY_MS) ?? 1000,
      maxHeapUsedBytes: integer('DCR_MAX_HEAP_USED_BYTES', env.DCR_MAX_HEAP_USED_BYTES) ?? 0,
    },
    as: defined({
      issuer: env.DCR_AS_ISSUER?.trim().replace(/\/+$/, '') || undefined,
      jwksUrl: env.DCR_AS_JWKS_URL?.trim() || undefined,
      introspectionUrl: env.DCR_AS_INTROSPECTION_URL?.trim() || undefined,
      introspectionClientId: env.DCR_AS_INTROSPECTION_CLIENT_ID || undefined,
      introspectionClientSecret: env.DCR_AS_INTROSPECTION_CLIENT_SECRET || undefined,
      port: integer('DCR_AS_PORT', env.DCR_AS_PORT) ?? 8445,
      tokenAudiences: list(env.DCR_AS_TOKEN_AUDIENCE),
      provisioning: env.DCR_AS_PROVISIONING?.trim() || (sandbox ? 'sandbox' : undefined),
      eventGroups: list(env.DCR_AS_EVENT_GROUPS) ?? [],
      keycloak: defined({
        url: env.DCR_KEYCLOAK_URL?.trim().replace(/\/+$/, '') || undefined,
        realm: env.DCR_KEYCLOAK_REALM?.trim() || undefined,
        clientId: env.DCR_KEYCLOAK_CLIENT_ID?.trim() || undefined,
        clientSecret: env.DCR_KEYCLOAK_CLIENT_SECRET || undefined,
      }),
    }),
    tracing: tracingConfig(env),
    queueLeaseMs: integer('DCR_QUEUE_LEASE_MS', env.DCR_QUEUE_LEASE_MS) ?? 10_000,
    reconcile: {
      intervalMs: integer('DCR_RECONCILE_INTERVAL_MS', env.DCR_RECONCILE_INTERVAL_MS) ?? 30_000,
      afterMs: integer('DCR_RECONCILE_AFTER_MS', env.DCR_RECONCILE_AFTER_MS) ?? 120_000,
    },
    relayIntervalMs: integer('DCR_RELAY_INTERVAL_MS', env.DCR_RELAY_INTERVAL_MS) ?? (env.DCR_MONGO_URL ? 200 : 1000),
    logLevel: env.DCR_LOG_LEVEL ?? 'info',
    logFormat: env.DCR_LOG_FORMAT || undefined,
  };
  const config = defined(candidate);

  const provisioning = env.DCR_AS_PROVISIONING?.trim();
  if (provisioning === undefined || provisioning === '') {
    if (!sandbox) throw new ConfigurationError('DCR_AS_PROVISIONING', `required when DCR_SANDBOX=0: how clients reach the bank's authorization server (${AS_PROVISIONING_MODES.filter((m) => m !== 'sandbox').join(', ')})`);
  } else if (!(AS_PROVISIONING_MODES as readonly string[]).includes(provisioning)) {
    throw new ConfigurationError('DCR_AS_PROVISIONING', `must be one of ${AS_PROVISIONING_MODES.join(', ')}, got '${provisioning.slice(0, 40)}'`);
  }

  if (!validator.Check(config)) {
    const first = validator.Errors(config)[0];
    const path = first?.instancePath ?? '';
    const variable = VARIABLE_OF[path] ?? VARIABLE_OF[path.replace(/\/[0-9]+$/, '')] ?? (path || 'configuration');
    throw new ConfigurationError(variable, first?.message ?? 'invalid value');
  }
  if (!config.sandbox && config.directoryJwksUrl === undefined) {
    throw new ConfigurationError('DCR_DIRECTORY_JWKS_URL', 'required when DCR_SANDBOX=0 (the directory whose SSAs are trusted)');
  }
  if (!config.sandbox && config.tls.clientCaFile === undefined) {
    throw new ConfigurationError('DCR_CLIENT_CA_FILE', 'required when DCR_SANDBOX=0 (the CAs whose client certificates are accepted)');
  }
  if (config.tokenSealingKey !== undefined && Buffer.from(config.tokenSealingKey, 'base64').length !== 32) {
    throw new ConfigurationError('DCR_TOKEN_SEALING_KEY', 'must be 32 bytes, base64-encoded');
  }
  if (config.as.introspectionUrl && (!config.as.introspectionClientId || !config.as.introspectionClientSecret)) {
    throw new ConfigurationError('DCR_AS_INTROSPECTION_CLIENT_ID', 'DCR_AS_INTROSPECTION_URL needs DCR_AS_INTROSPECTION_CLIENT_ID and DCR_AS_INTROSPECTION_CLIENT_SECRET');
  }
  if (config.as.provisioning === 'sandbox' && !config.sandbox) {
    throw new ConfigurationError('DCR_AS_PROVISIONING', 'sandbox provisions into the sandbox AS, which runs only with DCR_SANDBOX=1');
  }
  if (config.as.provisioning === 'keycloak') {
    for (const [key, variable] of [['url', 'DCR_KEYCLOAK_URL'], ['realm', 'DCR_KEYCLOAK_REALM'], ['clientId', 'DCR_KEYCLOAK_CLIENT_ID'], ['clientSecret', 'DCR_KEYCLOAK_CLIENT_SECRET']] as const) {
      if (!config.as.keycloak[key]) throw new ConfigurationError(variable, 'required with DCR_AS_PROVISIONING=keycloak');
    }
  }
  if (config.as.provisioning === 'events' && config.as.eventGroups.length === 0) {
    throw new ConfigurationError('DCR_AS_EVENT_GROUPS', 'required with DCR_AS_PROVISIONING=events: the consumer groups that must have applied a client event');
  }
  if (config.httpTimeouts.headersMs > config.httpTimeouts.requestMs) {
    throw new ConfigurationError('DCR_HEADERS_TIMEOUT_MS', `must not exceed DCR_REQUEST_TIMEOUT_MS (${config.httpTimeouts.requestMs})`);
  }
  // The idempotency window: a rejected request (and its submission key) outlives the request JWT it
  // judged, so the same bytes sent again within their lifetime find it rather than a fresh verification.
  const requestWindow = config.maxRequestLifetimeSeconds + config.leewaySeconds;
  if (config.retention.rejectedSeconds < requestWindow) {
    throw new ConfigurationError('DCR_RETENTION_REJECTED_SECONDS', `must be at least DCR_MAX_REQUEST_LIFETIME_SECONDS + DCR_LEEWAY_SECONDS (${requestWindow})`);
  }
  if (config.retention.auditSeconds < config.resultTtlSeconds) {
    throw new ConfigurationError('DCR_RETENTION_AUDIT_SECONDS', `must be at least DCR_RESULT_TTL_SECONDS (${config.resultTtlSeconds})`);
  }
  if (config.as.jwksUrl && !config.as.issuer) throw new ConfigurationError('DCR_AS_ISSUER', 'required with DCR_AS_JWKS_URL (the expected iss of AS access tokens)');
  const distributed = [config.mongoUrl, config.redisUrl, config.kafkaBrokers].filter((v) => v !== undefined).length;
  if (distributed !== 0 && distributed !== 3) {
    throw new ConfigurationError(
      config.mongoUrl === undefined ? 'DCR_MONGO_URL' : config.redisUrl === undefined ? 'DCR_REDIS_URL' : 'DCR_KAFKA_BROKERS',
      'the distributed mode needs DCR_MONGO_URL, DCR_REDIS_URL and DCR_KAFKA_BROKERS together',
    );
  }
  return config;
}

export function isDistributed(config: Config): boolean {
  return config.mongoUrl !== undefined;
}
