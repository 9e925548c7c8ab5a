import { Type } from 'typebox';
import { ConfigurationError } from '../../core/domain/errors.js';
import { AS_PROVISIONING_MODES } from '../../core/ports/authorization-server.js';
import { isProfileName, PROFILE_NAMES, PROFILES } from '../../core/profiles/index.js';
import { REVOCATION_CHECK_NAMES, type RevocationCheckName } from '../../core/revocation/checks/index.js';
import { documented, kinds, maybe, parseList, setting, shown, type DocumentedVariable, type Resolver } from './settings.js';

/**
 * THE configuration table: one entry per configuration field, each naming its environment variable,
 * parser, default, validation and README line. `schema.ts` (the TypeBox schema and the `Config`
 * type), `load.ts` (the loader and its error lines) and README's configuration tables
 * (`npm run docs:config`) are derived from it; add a variable here and nowhere else.
 */

/**
 * Revocation checks (SPEC §9.1), one file each in core/revocation/checks/ and registered in its
 * index.ts, from which this enum derives: `status-api` (CDR Register-shaped organisation and
 * software status), `revoked-jwks` (signing key and transport certificate in the SSA's
 * revoked/inactive JWKS), `chain` (transport certificate chain to the client CAs), `crl` and `ocsp`
 * (transport certificate). The SSA's own status claims (`org_status`, OFB role statuses) are judged
 * by the verifier (services/verifier/metadata/ssa-claims.ts), always.
 */
export const REVOCATION_CHECKS = REVOCATION_CHECK_NAMES;
export type { RevocationCheckName };

/** `OTEL_TRACES_SAMPLER` values (OpenTelemetry SDK environment variables specification). */
export const TRACES_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The issuer the sandbox directory signs SSAs as in profiles without a directory of their own (sandbox/directory-sandbox/ssa.ts). */
export const SANDBOX_SSA_ISSUER = 'OpenBanking Ltd';

const { port, integer, boolean, text, file, httpsUrl, baseUrl, list, oneOf } = kinds;
const noneOrList = (text: string) => (text.toLowerCase() === 'none' ? [] : parseList(text));
/**
 * `DCR_REVOCATION_CHECKS` / `DCR_REVOCATION_SOFT_FAIL`. `ssa-status` was a revocation check until
 * the SSA's status claims got one owner, the verifier (always on): naming it is a configuration
 * error that says so, not a silently ignored value.
 */
const checkList = (variable: string) => (text: string) => {
  const names = noneOrList(text);
  if (names.includes('ssa-status')) {
    throw new ConfigurationError(variable, "'ssa-status' is no longer a revocation check: the SSA's org_status and role statuses are judged by the verifier, always; remove it");
  }
  return names;
};
const revocationChecks = () => list(Type.Enum(REVOCATION_CHECKS), `a comma list of ${REVOCATION_CHECKS.join(', ')} (or none)`, { uniqueItems: true });

/**
 * The profile's trusted SSA issuers (`ssa.defaultIssuers`). A profile without a directory of its own
 * (fapi2, rfc7591) trusts the sandbox directory's issuer in the sandbox; outside it, DCR_SSA_ISSUER
 * is required where the profile requires an SSA.
 */
function defaultSsaIssuers(r: Resolver): string[] {
  const profile = r.get<string>('profile');
  if (!isProfileName(profile)) return [];
  const { defaultIssuers, required } = PROFILES[profile].ssa;
  if (defaultIssuers.length) return [...defaultIssuers];
  if (r.get<boolean>('sandbox')) return [SANDBOX_SSA_ISSUER];
  if (required) throw new ConfigurationError('DCR_SSA_ISSUER', `is required with DCR_PROFILE=${profile} (the profile has no default SSA issuer)`);
  return [];
}

/** The sandbox AS's issuer when this process runs it ({@link LoadOptions.sandboxAs}) and no AS is configured. */
function sandboxAsIssuer(r: Resolver): string | undefined {
  if (!r.options.sandboxAs || !r.get<boolean>('sandbox')) return undefined;
  if (r.raw('DCR_AS_ISSUER') !== undefined || r.raw('DCR_AS_INTROSPECTION_URL') !== undefined) return undefined;
  return `https://localhost:${r.get<number>('as.port')}`;
}

/**
 * `key=value,key2=value2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES). The error never repeats the value: headers may hold an API key.
 */
function keyValues(variable: string, value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of value === undefined ? [] : parseList(value)) {
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

/** The variable among `variables` that is set first (the signal-specific OTEL variable wins over the general one). */
function firstSet(r: Resolver, ...variables: string[]): string | undefined {
  return variables.find((v) => r.raw(v) !== undefined);
}

export const VARIABLES = {
  host: setting({ env: 'DCR_HOST', ...text(), default: '127.0.0.1', doc: 'mTLS listener address (and, under `npm start`, the sandbox directory and sandbox AS listeners)' }),
  httpsPort: setting({ env: 'DCR_HTTPS_PORT', ...port(), default: 8443, doc: 'mTLS listener port (`0`: any free port)' }),
  publicUrl: setting({
    env: 'DCR_PUBLIC_URL',
    schema: Type.String({ pattern: '^https://[^\\s/]+(/[^\\s]*)?$' }),
    form: 'an https:// URL',
    parse: (t: string) => t.replace(/\/+$/, ''),
    default: (r) => {
      const p = r.get<number>('httpsPort');
      return `https://localhost:${p === 0 ? 8443 : p}`;
    },
    doc: 'external base URL (`registration_client_uri`, discovery)',
    defaultDoc: '`https://localhost:DCR_HTTPS_PORT`',
  }),
  /** JWKS of the directory's SSA signing keys (`https://…` or `file://…`). */
  directoryJwksUrl: maybe({
    env: 'DCR_DIRECTORY_JWKS_URL',
    ...text(),
    doc: "JWKS of the directory's SSA signing keys (`https://` or `file://`)",
    defaultDoc: 'sandbox directory',
    requiredOutsideSandbox: 'the directory whose SSAs are trusted',
  }),
  tls: {
    certFile: maybe({ env: 'DCR_TLS_CERT_FILE', ...file(), doc: 'server certificate (PEM)', defaultDoc: 'sandbox-issued' }),
    keyFile: maybe({ env: 'DCR_TLS_KEY_FILE', ...file(), doc: 'server private key (PEM)', defaultDoc: 'sandbox-issued' }),
    clientCaFile: maybe({
      env: 'DCR_CLIENT_CA_FILE',
      ...file(),
      doc: 'PEM bundle of CAs whose client certificates are accepted',
      defaultDoc: 'sandbox CA',
      requiredOutsideSandbox: 'the CAs whose client certificates are accepted',
    }),
  },
  /** RFC 9440 header carrying the client certificate from a trusted TLS-terminating proxy. */
  clientCertHeader: maybe({ env: 'DCR_CLIENT_CERT_HEADER', ...text(), doc: 'RFC 9440 `Client-Cert` header name, accepted from `DCR_TRUSTED_PROXIES` only', defaultDoc: 'off' }),
  trustedProxies: setting({ env: 'DCR_TRUSTED_PROXIES', ...list(Type.String(), 'a comma list of addresses'), default: [], doc: 'proxy addresses whose `DCR_CLIENT_CERT_HEADER` is believed (comma list)' }),
  /** Trusted SSA issuers; empty only in a profile whose SSA is optional (rfc7591). */
  ssaIssuers: setting({
    env: 'DCR_SSA_ISSUER',
    ...list(Type.String({ minLength: 1 }), 'a comma list of issuers'),
    default: defaultSsaIssuers,
    doc: 'accepted SSA `iss` values (comma list); the stand-alone sandbox directory signs as the first',
    defaultDoc:
      "the profile's directory: `OpenBanking Ltd` (obie-*), `cdr-register` (cdr), `Open Banking Open Banking Brasil prod SSA issuer` (openfinance-br); fapi2: the sandbox directory's, else required; rfc7591: none",
  }),
  audiences: setting({
    env: 'DCR_AUDIENCE',
    ...list(Type.String({ minLength: 1 }), 'a comma list of URLs', { minItems: 1 }),
    default: (r) => [r.get<string>('publicUrl')],
    doc: 'accepted request `aud` values (comma list)',
    defaultDoc: '`DCR_PUBLIC_URL`',
  }),
  profile: setting({ env: 'DCR_PROFILE', ...oneOf(PROFILE_NAMES), default: 'obie-3.3', doc: `the ecosystem profile: ${PROFILE_NAMES.map((p) => `\`${p}\``).join(', ')}` }),
  /** host[:port] allow-list for every outbound fetch (the AS's hosts join it). */
  allowedFetchHosts: setting({
    env: 'DCR_ALLOWED_FETCH_HOSTS',
    ...list(Type.String({ minLength: 1 }), 'a comma list of host[:port]'),
    read: (r) => {
      const out = parseList(r.raw('DCR_ALLOWED_FETCH_HOSTS') ?? '');
      // The AS's JWKS, introspection and Keycloak admin hosts join the allow-list (like the directory's host).
      for (const url of [r.raw('DCR_AS_JWKS_URL') ?? sandboxAsJwks(r), r.raw('DCR_AS_INTROSPECTION_URL'), r.raw('DCR_KEYCLOAK_URL')]) {
        try {
          const u = url ? new URL(url) : null;
          if (u?.protocol === 'https:' && !out.includes(u.host)) out.push(u.host);
        } catch {
          // an invalid URL is reported by its own setting
        }
      }
      return out;
    },
    doc: "host[:port] allow-list for every outbound fetch (`*.example.com` for subdomains; private addresses only for exact entries); the AS's JWKS, introspection and Keycloak hosts join it",
    defaultDoc: "the directory's host",
  }),
  outboundCaFile: maybe({ env: 'DCR_OUTBOUND_CA_FILE', ...file(), doc: 'extra CAs for outbound HTTPS (verification is never off)', defaultDoc: 'none' }),
  sandbox: setting({
    env: 'DCR_SANDBOX',
    ...boolean(),
    read: (r) => {
      const given = r.raw('DCR_SANDBOX');
      if (given !== undefined) return kinds.boolean().parse(given, 'DCR_SANDBOX');
      const trustConfigured = r.raw('DCR_DIRECTORY_JWKS_URL') !== undefined || r.raw('DCR_CLIENT_CA_FILE') !== undefined;
      return r.options.sandboxByDefault === true && !trustConfigured;
    },
    doc: '`1`: run/trust the sandbox directory; production entry points (`services/*/main.ts`) refuse it',
    defaultDoc: '`1` under `npm start`, the sandbox launcher and the CLI unless trust is configured; else `0`',
  }),
  sandboxHost: setting({ env: 'DCR_SANDBOX_HOST', ...text(), default: '127.0.0.1', doc: 'listener address of the stand-alone sandbox directory process (`sandbox/directory-sandbox/main.ts`; `npm start` uses `DCR_HOST`)' }),
  sandboxPort: setting({ env: 'DCR_SANDBOX_PORT', ...port(), default: 8444, doc: 'sandbox directory listener port' }),
  /** The sandbox directory's JWKS `Cache-Control` (the benchmark's `no-store` directory mode). */
  sandboxJwksCacheControl: maybe({
    env: 'DCR_SANDBOX_JWKS_CACHE_CONTROL',
    ...text(),
    parse: (value: string, variable: string) => {
      if (!/^[\w=, -]{1,100}$/.test(value)) throw new ConfigurationError(variable, `must be a Cache-Control value such as no-store, got '${shown(value)}'`);
      return value;
    },
    doc: "`Cache-Control` of the sandbox directory's JWKS answers (`no-store` for the benchmark's no-store mode)",
    defaultDoc: '`max-age=60`',
  }),
  /** Base URL of the sandbox directory as other services reach it (compose: https://directory-sandbox:8444). */
  sandboxUrl: setting({
    env: 'DCR_SANDBOX_BASE_URL',
    ...baseUrl(),
    default: (r) => `https://localhost:${r.get<number>('sandboxPort')}`,
    doc: 'the sandbox directory as other processes reach it',
    defaultDoc: '`https://localhost:DCR_SANDBOX_PORT`',
  }),
  syncWaitMs: setting({ env: 'DCR_SYNC_WAIT_MS', ...integer(0, 60_000), default: 5000, doc: 'how long `POST /register` waits before answering 202 (ms)' }),
  admin: {
    host: setting({ env: 'DCR_ADMIN_HOST', ...text(), default: '127.0.0.1', doc: 'admin API, dashboard and `/metrics` listener address' }),
    port: setting({ env: 'DCR_ADMIN_PORT', ...port(), default: 8081, doc: 'admin listener port' }),
    token: maybe({
      env: 'DCR_ADMIN_TOKEN',
      ...text(16),
      secret: true,
      doc: 'bearer token of the admin API and `/metrics`; outside the sandbox the ops service refuses to start without one',
      defaultDoc: 'sandbox: generated in `DCR_DATA_DIR`',
    }),
  },
  mongoUrl: maybe({
    env: 'DCR_MONGO_URL',
    schema: Type.String({ pattern: '^mongodb(\\+srv)?://' }),
    form: 'a mongodb:// or mongodb+srv:// URL',
    secret: true,
    doc: 'distributed adapters: MongoDB store (all three of `DCR_MONGO_URL`, `DCR_REDIS_URL`, `DCR_KAFKA_BROKERS`, or none)',
    defaultDoc: 'embedded',
  }),
  /** Issue 20's diagnostic (platform/adapters/mongo/command-census.ts): off unless set. */
  mongoCommandCensusDir: maybe({
    env: 'DCR_MONGO_COMMAND_CENSUS_DIR',
    ...text(),
    doc: "diagnostic: the store's MongoDB command census, one JSON line per 10 s to `<dir>/<service>-<pid>.jsonl` (commands per name, collection and filter shape)",
    defaultDoc: 'off',
  }),
  redisUrl: maybe({ env: 'DCR_REDIS_URL', schema: Type.String({ pattern: '^rediss?://' }), form: 'a redis:// or rediss:// URL', secret: true, doc: 'distributed adapters: BullMQ queue, shared rate-limit counters', defaultDoc: 'embedded' }),
  kafkaBrokers: maybe({
    env: 'DCR_KAFKA_BROKERS',
    ...list(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$' }), 'a comma list of host:port', { minItems: 1 }),
    doc: 'distributed adapters: the Kafka event bus',
    defaultDoc: 'embedded',
  }),
  /** Prefix for Kafka topics, BullMQ queues and Mongo collections: isolates tenants and test runs. */
  namespace: setting({ env: 'DCR_NAMESPACE', schema: Type.String({ pattern: '^[a-z0-9_-]*$' }), form: 'lower-case letters, digits, _ and -', default: '', doc: 'prefix of topics, queues and collections (tenants, test isolation)' }),
  dataDir: setting({
    env: 'DCR_DATA_DIR',
    ...file(),
    default: './var',
    doc: 'embedded state, sandbox files, generated keys; made owner-only at every start (directories 0700, files 0600)',
  }),
  /** 32-byte key (base64) sealing registration access tokens until their one delivery window ends. */
  tokenSealingKey: maybe({
    env: 'DCR_TOKEN_SEALING_KEY',
    ...text(),
    form: '32 bytes, base64-encoded',
    check: (key) => (Buffer.from(key, 'base64').length !== 32 ? 'must be 32 bytes, base64-encoded' : undefined),
    secret: true,
    doc: '32-byte base64 key sealing registration access tokens for delivery',
    defaultDoc: 'generated in `DCR_DATA_DIR/keys`',
  }),
  /** Clock leeway for `exp`/`iat` (SPEC §2.4: default 30 s, never more than 60 s). */
  leewaySeconds: setting({ env: 'DCR_LEEWAY_SECONDS', ...integer(0, 60), default: 30, doc: 'clock leeway for `iat`/`exp` (s, ≤ 60)' }),
  /** Maximum accepted `exp - iat` of a request JWT (SPEC §2.4: at least 3600). */
  maxRequestLifetimeSeconds: setting({ env: 'DCR_MAX_REQUEST_LIFETIME_SECONDS', ...integer(60, 86_400), default: 3600, doc: 'maximum `exp − iat` of a request JWT (s)' }),
  /**
   * SSA maximum age (`now - iat`). Absent: the profile's own rule (Open Finance Brasil: 300 s; the
   * others none). A number tightens it; null (`off`) switches off only a limit the profile does not
   * mandate: a profile's own maximum age always holds (core/profiles `ssa.time.maxAgeSeconds`).
   */
  ssaMaxAgeSeconds: maybe({
    env: 'DCR_SSA_MAX_AGE_SECONDS',
    schema: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    form: 'a number of seconds (at least 1) or off',
    parse: (t: string, variable: string) => (['off', 'none'].includes(t.toLowerCase()) ? null : kinds.integer(1).parse(t, variable)),
    doc: "SSA maximum age where the profile sets none (OBIE; `off`: no limit, conformance reuses one SSA); a profile's own limit (openfinance-br: 300 s) holds whatever this says, a smaller value tightens it",
    defaultDoc: "the profile's (`off` for OBIE)",
  }),
  /**
   * RFC 7592 §2.2 registration access token rotation on update. Absent: the profile's default
   * (`management.tokenRotation`); a profile that forbids rotation (Open Finance Brasil) refuses `1`.
   */
  rotateRegistrationToken: maybe({
    env: 'DCR_ROTATE_REGISTRATION_TOKEN',
    ...boolean(),
    check: (rotate, r) => {
      const profile = r.get<string>('profile');
      return rotate && isProfileName(profile) && PROFILES[profile].management.tokenRotation === 'forbidden'
        ? `must not be 1 with DCR_PROFILE=${profile}: the profile forbids rotating the registration access token`
        : undefined;
    },
    doc: '`1`: an RFC 7592 update returns a new registration access token and the old one stops working; refused at start-up in `openfinance-br`, which forbids rotation',
    defaultDoc: '`0`',
  }),
  /** Attempts per stage before a registration is `failed` (BullMQ attempts). */
  stageAttempts: setting({ env: 'DCR_STAGE_ATTEMPTS', ...integer(1, 50), default: 5, doc: 'attempts per stage before `failed`' }),
  retryBaseDelayMs: setting({ env: 'DCR_RETRY_BASE_DELAY_MS', ...integer(1, 600_000), default: 1000, doc: 'base of the exponential retry backoff (ms)' }),
  workerConcurrency: setting({ env: 'DCR_WORKER_CONCURRENCY', ...integer(1, 512), default: 16, doc: 'jobs per stage worker' }),
  /** Outbound fetch limits (SPEC §10.3). */
  fetch: {
    connectTimeoutMs: setting({ env: 'DCR_FETCH_CONNECT_TIMEOUT_MS', ...integer(1), default: 2000, doc: 'outbound fetch: connect timeout (ms)' }),
    totalTimeoutMs: setting({ env: 'DCR_FETCH_TIMEOUT_MS', ...integer(1), default: 5000, doc: 'outbound fetch: whole-request timeout (ms)' }),
    maxBytes: setting({ env: 'DCR_FETCH_MAX_BYTES', ...integer(1), default: 256 * 1024, doc: 'outbound fetch: largest response body (bytes)' }),
    cacheMaxAgeSeconds: setting({ env: 'DCR_FETCH_CACHE_MAX_AGE_SECONDS', ...integer(0), default: 300, doc: 'outbound fetch: cache ceiling (s)' }),
  },
  /** Directory revocation policy (SPEC §9). */
  revocation: {
    checks: setting({ env: 'DCR_REVOCATION_CHECKS', ...revocationChecks(), parse: checkList('DCR_REVOCATION_CHECKS'), default: [...REVOCATION_CHECKS], doc: `checks the revocation stage runs: ${REVOCATION_CHECKS.map((c) => `\`${c}\``).join(', ')} (comma list, or \`none\`); the former \`ssa-status\` is refused at start-up (the verifier judges the SSA's \`org_status\` and role statuses, always)`, defaultDoc: 'all' }),
    softFail: setting({
      env: 'DCR_REVOCATION_SOFT_FAIL',
      ...revocationChecks(),
      parse: checkList('DCR_REVOCATION_SOFT_FAIL'),
      default: [],
      doc: 'checks that may be passed over when their source is down (audited); CRL/OCSP only if the other answered',
    }),
    /** Base of a CDR Register-shaped status API, e.g. `https://register/cdr-register/v1/banking`. */
    statusUrl: maybe({
      env: 'DCR_DIRECTORY_STATUS_URL',
      ...httpsUrl(),
      read: (r) => {
        const value = r.raw('DCR_DIRECTORY_STATUS_URL');
        if (value !== undefined) return ['off', 'none'].includes(value.toLowerCase()) ? undefined : value.replace(/\/+$/, '');
        return r.get<boolean>('sandbox') ? `${r.get<string>('sandboxUrl')}/cdr-register/v1/banking` : undefined;
      },
      doc: 'CDR Register-shaped status API (`off` to disable)',
      defaultDoc: 'sandbox: the sandbox directory\'s; else none',
    }),
    ocspUnknown: setting({ env: 'DCR_OCSP_UNKNOWN', ...oneOf(['retry', 'reject'] as const), default: 'retry', doc: 'OCSP `unknown`: `retry` or `reject`' }),
  },
  /**
   * JSON file listing the custom validators (SPEC §12): `[{name, module, enabled, priority, options,
   * profiles}]`, module paths relative to the file. Unset: none.
   */
  validatorsFile: maybe({ env: 'DCR_VALIDATORS_FILE', ...file(), doc: 'custom validators (see "Custom validators")', defaultDoc: 'none' }),
  /** How long the sealed registration access token stays deliverable to the submitter (poll / resubmit). */
  resultTtlSeconds: setting({
    env: 'DCR_RESULT_TTL_SECONDS',
    ...integer(60),
    default: 86_400,
    doc: 'how long the sealed registration access token stays deliverable to the submitter; then the request is compacted (see Retention)',
  }),
  /** Slow-client bounds of the mTLS and admin listeners (SECURITY.md "Slow clients"). */
  httpTimeouts: {
    headersMs: setting({
      env: 'DCR_HEADERS_TIMEOUT_MS',
      ...integer(100, 600_000),
      default: 10_000,
      doc: 'slow clients: request headers must arrive within this on the mTLS and admin listeners (else 408 and the connection is closed; checked every tenth of it, at most every second); ≤ `DCR_REQUEST_TIMEOUT_MS`',
    }),
    requestMs: setting({ env: 'DCR_REQUEST_TIMEOUT_MS', ...integer(100, 600_000), default: 30_000, doc: 'slow clients: the whole request, body included, must arrive within this (ms)' }),
  },
  /** What the store keeps, and for how long (README "Retention"). */
  retention: {
    rejectedSeconds: setting({
      env: 'DCR_RETENTION_REJECTED_SECONDS',
      ...integer(60),
      default: 86_400,
      doc: 'rejected requests, body included, are deleted this long after rejection (≥ `DCR_MAX_REQUEST_LIFETIME_SECONDS` + `DCR_LEEWAY_SECONDS`)',
    }),
    // five years (365.25-day years), the usual payment-services record-keeping period
    auditSeconds: setting({
      env: 'DCR_RETENTION_AUDIT_SECONDS',
      ...integer(60),
      default: 157_788_000,
      doc: 'registered requests keep their compact record and history this long (≥ `DCR_RESULT_TTL_SECONDS`)',
      defaultDoc: '`157788000` (5 years)',
    }),
    maxInFlightPerTpp: setting({
      env: 'DCR_MAX_IN_FLIGHT_PER_TPP',
      ...integer(0, 1_000_000),
      default: 50,
      doc: 'requests of one TPP identity in progress at once; a new one beyond it gets 429 `slow_down` + `Retry-After: 30`, `0` = off',
    }),
    purgeIntervalSeconds: setting({
      env: 'DCR_RETENTION_PURGE_INTERVAL_SECONDS',
      ...integer(0, 86_400),
      default: 600,
      doc: 'pause between retention passes (run by one instance: a store lease), `0` = never',
    }),
  },
  /** Reference notifier (services/notifier): signed webhooks for registration outcomes. */
  notifier: {
    webhookUrl: maybe({
      env: 'DCR_NOTIFIER_WEBHOOK_URL',
      ...httpsUrl(),
      doc: "the reference notifier's webhook (`https://` only; sent through the outbound fetcher, its host allowed implicitly)",
      defaultDoc: 'unset',
    }),
    webhookSecret: maybe({ env: 'DCR_NOTIFIER_WEBHOOK_SECRET', ...text(32), secret: true, doc: 'HMAC-SHA256 key of the `X-DCR-Signature` header (≥ 32 characters)', defaultDoc: 'unset' }),
    maxAttempts: setting({ env: 'DCR_NOTIFIER_MAX_ATTEMPTS', ...integer(1, 20), default: 5, doc: 'webhook attempts per event' }),
    retryBaseDelayMs: setting({ env: 'DCR_NOTIFIER_RETRY_BASE_DELAY_MS', ...integer(1, 600_000), default: 1000, doc: 'webhook retry backoff base (ms)' }),
    timeoutMs: setting({ env: 'DCR_NOTIFIER_TIMEOUT_MS', ...integer(1, 60_000), default: 5000, doc: 'webhook request timeout (ms)' }),
  },
  /** Intake protections (SPEC §10 hardening): per-TPP rate limit and load shedding; 0 disables either. */
  protection: {
    rateLimitPerMinute: setting({
      env: 'DCR_RATE_LIMIT_PER_MINUTE',
      ...integer(0, 1_000_000),
      default: 600,
      doc: 'requests per minute per TPP (client certificate identity; Redis store when distributed), failed (401/403) attempts included, `0` = off; 429 `slow_down` + `Retry-After`',
    }),
    maxEventLoopDelayMs: setting({ env: 'DCR_MAX_EVENT_LOOP_DELAY_MS', ...integer(0, 60_000), default: 1000, doc: 'load shedding: 503 `temporarily_unavailable` + `Retry-After` while the event loop delay exceeds this (ms), `0` = off' }),
    maxHeapUsedBytes: setting({ env: 'DCR_MAX_HEAP_USED_BYTES', ...integer(0), default: 0, doc: 'load shedding: the same while the V8 heap in use exceeds this many bytes, `0` = off' }),
  },
  /**
   * The bank's authorization server (CONTRACT "Authorization server"): management accepts its
   * client-credentials access tokens (JWT by `jwksUrl`, or opaque by RFC 7662 introspection).
   */
  as: {
    issuer: maybe({
      env: 'DCR_AS_ISSUER',
      ...baseUrl(),
      default: sandboxAsIssuer,
      doc: "the bank's AS: expected `iss` of its access tokens (management accepts its JWTs: `iss`, signature, `exp`, `client_id`, `cnf`)",
      defaultDoc: '`npm start`: the sandbox AS it runs (`https://localhost:DCR_AS_PORT`); required with `DCR_AS_JWKS_URL`',
    }),
    jwksUrl: maybe({ env: 'DCR_AS_JWKS_URL', ...httpsUrl(), default: sandboxAsJwks, doc: "JWKS of the AS's access-token signing keys; its host joins the fetch allow-list", defaultDoc: '`npm start`: the sandbox AS\'s (`ISSUER/jwks`)' }),
    introspectionUrl: maybe({
      env: 'DCR_AS_INTROSPECTION_URL',
      ...httpsUrl(),
      doc: 'RFC 7662 introspection of opaque AS tokens (client_secret_basic, through the outbound fetcher; answers cached ≤ 30 s by token hash); needs the client id and secret',
      defaultDoc: 'unset',
    }),
    introspectionClientId: maybe({ env: 'DCR_AS_INTROSPECTION_CLIENT_ID', ...text(), untrimmed: true, doc: 'introspection client id', defaultDoc: 'unset' }),
    introspectionClientSecret: maybe({ env: 'DCR_AS_INTROSPECTION_CLIENT_SECRET', ...text(), secret: true, doc: 'introspection client secret', defaultDoc: 'unset' }),
    port: setting({ env: 'DCR_AS_PORT', ...port(), default: 8445, doc: 'sandbox AS listener (`https://localhost:PORT` is its issuer)' }),
    tokenAudiences: maybe({
      env: 'DCR_AS_TOKEN_AUDIENCE',
      ...list(Type.String({ minLength: 1, maxLength: 2048 }), 'a comma list of audiences', { minItems: 1 }),
      doc: 'accepted `aud` of AS access tokens (comma list, RFC 9068 §4)',
      defaultDoc: '`DCR_PUBLIC_URL` and `DCR_AUDIENCE`',
    }),
    provisioning: setting({
      env: 'DCR_AS_PROVISIONING',
      ...oneOf(AS_PROVISIONING_MODES),
      default: (r) => (r.get<boolean>('sandbox') ? 'sandbox' : undefined),
      check: (mode, r) => (mode === 'sandbox' && !r.get<boolean>('sandbox') ? 'sandbox provisions into the sandbox AS, which runs only with DCR_SANDBOX=1' : undefined),
      doc: 'how a client reaches the bank\'s AS before `registered` is answered: `sandbox` (the sandbox AS, synchronously), `keycloak` (Admin REST API), `events` (named consumer groups must have applied the client event), `store` (the AS reads our client store) — see "Authorization server"',
      defaultDoc: 'sandbox: `sandbox`',
      requiredOutsideSandbox: "how clients reach the bank's authorization server",
    }),
    eventGroups: setting({
      env: 'DCR_AS_EVENT_GROUPS',
      ...list(Type.String({ pattern: '^[A-Za-z0-9._-]{1,200}$' }), 'a comma list of consumer group names (letters, digits, . _ -)'),
      default: [],
      doc: "`events`: the consumer groups on `dcr.client.v1` that must have applied a client's event",
      defaultDoc: 'none (required with `events`)',
    }),
    /** `keycloak`: the realm and the service account (manage-clients) the provisioner uses. */
    keycloak: {
      url: maybe({ env: 'DCR_KEYCLOAK_URL', ...baseUrl(), doc: '`keycloak`: base URL (its host joins the fetch allow-list)', defaultDoc: 'unset (required with `keycloak`)' }),
      realm: maybe({ env: 'DCR_KEYCLOAK_REALM', schema: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }), form: 'a realm name (letters, digits, . _ -)', doc: '`keycloak`: the realm', defaultDoc: 'unset (required with `keycloak`)' }),
      clientId: maybe({ env: 'DCR_KEYCLOAK_CLIENT_ID', ...text(), doc: '`keycloak`: the service account with `manage-clients`', defaultDoc: 'unset (required with `keycloak`)' }),
      clientSecret: maybe({ env: 'DCR_KEYCLOAK_CLIENT_SECRET', ...text(), secret: true, doc: "`keycloak`: the service account's secret", defaultDoc: 'unset (required with `keycloak`)' }),
    },
  },
  /**
   * OpenTelemetry tracing (platform/observability/tracing.ts) from the standard OTEL_* variables. Off
   * unless OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER
   * asks for it; OTEL_SDK_DISABLED=true turns it off whatever else is set.
   */
  tracing: {
    enabled: setting({
      env: 'OTEL_SDK_DISABLED',
      schema: Type.Boolean(),
      form: 'true or false',
      read: (r) => {
        const disabled = r.raw('OTEL_SDK_DISABLED')?.toLowerCase() ?? '';
        if (!['', 'true', 'false'].includes(disabled)) throw new ConfigurationError('OTEL_SDK_DISABLED', `must be true or false, got '${shown(r.raw('OTEL_SDK_DISABLED'))}'`);
        return disabled !== 'true' && r.get<string[]>('tracing.exporters').length > 0;
      },
      doc: '`true`: off, whatever else is set',
      defaultDoc: '`false`',
    }),
    exporters: setting({
      env: 'OTEL_TRACES_EXPORTER',
      schema: Type.Array(Type.Union([Type.Literal('otlp'), Type.Literal('console')]), { uniqueItems: true }),
      form: 'otlp, console or none',
      read: (r) => {
        const named = parseList(r.raw('OTEL_TRACES_EXPORTER') ?? '').map((e) => e.toLowerCase());
        for (const e of named) if (!['otlp', 'console', 'none'].includes(e)) throw new ConfigurationError('OTEL_TRACES_EXPORTER', `'${shown(e)}' is not supported: use otlp, console or none`);
        if (named.length > 0) return named.includes('none') ? [] : [...new Set(named)];
        return firstSet(r, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT') ? ['otlp'] : [];
      },
      doc: '`otlp`, `console` (stdout, for development), both comma-separated, or `none`',
      defaultDoc: '`otlp` when an endpoint is set, else off',
    }),
    /** The OTLP/HTTP traces URL (…/v1/traces). */
    endpoint: setting({
      env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      also: ['OTEL_EXPORTER_OTLP_ENDPOINT'],
      schema: Type.String({ pattern: '^https?://[^\\s]+$' }),
      form: 'an http:// or https:// URL',
      read: (r) => {
        const variable = firstSet(r, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? 'OTEL_EXPORTER_OTLP_ENDPOINT';
        const given = r.raw(variable);
        // The signal-specific URL is used as is; the base one gets the traces path (OTLP/HTTP: /v1/traces).
        const endpoint = given === undefined ? 'http://localhost:4318/v1/traces' : variable === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' ? given : `${given.replace(/\/+$/, '')}/v1/traces`;
        let url: URL | undefined;
        try {
          url = new URL(endpoint);
        } catch {
          url = undefined;
        }
        if (!url || !['http:', 'https:'].includes(url.protocol)) throw new ConfigurationError(variable, `must be an http:// or https:// URL, got '${shown(endpoint)}'`);
        if (url.username || url.password) throw new ConfigurationError(variable, 'must not carry credentials (use OTEL_EXPORTER_OTLP_HEADERS)');
        return endpoint;
      },
      doc: 'the full traces URL, used as given; or (`OTEL_EXPORTER_OTLP_ENDPOINT`) the collector base URL, traces going to `…/v1/traces`. The first wins',
      defaultDoc: '`http://localhost:4318/v1/traces`',
    }),
    protocol: setting({
      env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
      also: ['OTEL_EXPORTER_OTLP_PROTOCOL'],
      ...oneOf(['http/protobuf', 'http/json'] as const),
      parse: (t: string, variable: string) => {
        const protocol = t.toLowerCase();
        if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new ConfigurationError(variable, `'${shown(protocol)}' is not supported: use http/protobuf (the default) or http/json (OTLP over HTTP)`);
        return protocol;
      },
      default: 'http/protobuf',
      doc: '`http/protobuf` or `http/json` (`grpc` is refused)',
    }),
    /** `OTEL_EXPORTER_OTLP_HEADERS` (an API key, say): sent to the collector only, never logged. */
    headers: setting({
      env: 'OTEL_EXPORTER_OTLP_HEADERS',
      also: ['OTEL_EXPORTER_OTLP_TRACES_HEADERS'],
      schema: Type.Record(Type.String(), Type.String()),
      form: 'a comma list of key=value',
      secret: true,
      read: (r) => ({ ...keyValues('OTEL_EXPORTER_OTLP_HEADERS', r.raw('OTEL_EXPORTER_OTLP_HEADERS')), ...keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', r.raw('OTEL_EXPORTER_OTLP_TRACES_HEADERS')) }),
      doc: '`key=value,…` (percent-encoded values) sent with each export, e.g. an API key (the traces one adds to and overrides the general one)',
      defaultDoc: 'none',
    }),
    timeoutMs: setting({ env: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', also: ['OTEL_EXPORTER_OTLP_TIMEOUT'], ...integer(1, 600_000), default: 10_000, doc: 'export timeout, ms' }),
    /** `OTEL_SERVICE_NAME`; unset: `dcr-<service>` (dcr-intake, dcr-standalone…). */
    serviceName: maybe({ env: 'OTEL_SERVICE_NAME', ...text(), doc: '`service.name`', defaultDoc: '`dcr-<service>`: `dcr-standalone`, `dcr-intake`, `dcr-verifier`, …' }),
    resourceAttributes: setting({
      env: 'OTEL_RESOURCE_ATTRIBUTES',
      schema: Type.Record(Type.String(), Type.String()),
      form: 'a comma list of key=value',
      read: (r) => keyValues('OTEL_RESOURCE_ATTRIBUTES', r.raw('OTEL_RESOURCE_ATTRIBUTES')),
      doc: 'more resource attributes, `key=value,…`',
      defaultDoc: 'none',
    }),
    sampler: setting({
      env: 'OTEL_TRACES_SAMPLER',
      ...oneOf(TRACES_SAMPLERS),
      parse: (t: string) => t.toLowerCase(),
      default: 'parentbased_always_on',
      doc: TRACES_SAMPLERS.map((s) => `\`${s}\``).join(', '),
    }),
    /** `OTEL_TRACES_SAMPLER_ARG`: the ratio of the traceidratio samplers. */
    samplerRatio: setting({
      env: 'OTEL_TRACES_SAMPLER_ARG',
      schema: Type.Number({ minimum: 0, maximum: 1 }),
      form: 'a number from 0 to 1',
      parse: (t: string, variable: string) => {
        const ratio = Number(t);
        if (!Number.isFinite(ratio)) throw new ConfigurationError(variable, `must be a number from 0 to 1, got '${shown(t)}'`);
        return ratio;
      },
      default: 1,
      doc: 'the ratio of the `traceidratio` samplers (0 to 1)',
    }),
  },
  /** BullMQ job lock, renewed while a job runs: a dead or paused worker's job moves on after ≤ 1.5 × this. */
  storeStartupWaitMs: setting({
    env: 'DCR_STORE_STARTUP_WAIT_MS',
    ...integer(0, 600_000),
    default: 120_000,
    doc: 'distributed: how long a starting service waits for MongoDB to answer before it exits (ms; `0` = one attempt); it does not listen meanwhile',
  }),
  queueLeaseMs: setting({
    env: 'DCR_QUEUE_LEASE_MS',
    ...integer(2000, 600_000),
    default: 10_000,
    doc: "BullMQ lock of a running job, renewed while it runs; a dead or paused worker's job is redelivered within 1.5 × this",
  }),
  /**
   * How often the reconciler looks for requests stranded without a job, and how old they must be (0 = off);
   * the delete sweep (core/pipeline/delete-sweep.ts) runs with it, for delete intents that old.
   */
  reconcile: {
    intervalMs: setting({ env: 'DCR_RECONCILE_INTERVAL_MS', ...integer(0, 86_400_000), default: 30_000, doc: "the reconciler's and the delete sweep's interval (ms, `0` = off)" }),
    afterMs: setting({ env: 'DCR_RECONCILE_AFTER_MS', ...integer(1000, 86_400_000), default: 120_000, doc: 'the age of a request the reconciler looks at, and of a delete intent the delete sweep finishes (ms)' }),
  },
  /** Idle poll interval of the outbox relay; commits wake it at once. */
  relayIntervalMs: setting({
    env: 'DCR_RELAY_INTERVAL_MS',
    ...integer(10, 3_600_000),
    default: (r) => (r.raw('DCR_MONGO_URL') !== undefined ? 200 : 1000),
    doc: "the outbox relay's idle poll (ms); every commit that writes events wakes it at once",
    defaultDoc: '`1000` embedded, `200` distributed',
  }),
  logLevel: setting({ env: 'DCR_LOG_LEVEL', ...oneOf(LOG_LEVELS), default: 'info', doc: 'pino level (per-request lines are `debug`)' }),
  /** `json` (one JSON object a line) or `pretty` (pino-pretty, for people); unset: json, except `npm start` on a terminal. */
  logFormat: maybe({ env: 'DCR_LOG_FORMAT', ...oneOf(['json', 'pretty'] as const), doc: '`json` (one object a line) or `pretty` (pino-pretty)', defaultDoc: '`pretty` for `npm start` on a terminal, else `json`' }),
} as const;

/** The sandbox AS's JWKS when its issuer is the default one. */
function sandboxAsJwks(r: Resolver): string | undefined {
  const issuer = sandboxAsIssuer(r);
  return issuer === undefined ? undefined : `${issuer}/jwks`;
}

/** Variables read by another component itself: documented with the rest, never in the configuration object. */
export const DOCUMENTED_ONLY: readonly DocumentedVariable[] = [
  documented({
    env: 'OTEL_EXPORTER_OTLP_CERTIFICATE',
    also: ['OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CLIENT_KEY', 'OTEL_EXPORTER_OTLP_COMPRESSION'],
    doc: 'TLS to the collector and `gzip`: read by the exporter itself from the process environment (and the `…_TRACES_…` forms)',
    defaultDoc: 'none',
  }),
];
