import { Type, type Static } from 'typebox';
import { AS_PROVISIONING_MODES } from '../../core/ports/authorization-server.js';
import { PROFILE_NAMES } from '../../core/profiles/types.js';
import { REVOCATION_CHECK_NAMES, type RevocationCheckName } from '../../core/revocation/checks/index.js';

/**
 * The one validated configuration object (node-oidc-provider style). Every behaviour switch lives
 * here with its documented default; `load.ts` maps environment variables onto it.
 */
export { PROFILE_NAMES };

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

export const ConfigSchema = Type.Object({
  /** mTLS listener. */
  host: Type.String({ minLength: 1 }),
  httpsPort: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** External base URL; `registration_client_uri` and discovery use it. */
  publicUrl: Type.String({ pattern: '^https://[^\\s/]+(/[^\\s]*)?$' }),
  tls: Type.Object({
    certFile: Type.Optional(Type.String()),
    keyFile: Type.Optional(Type.String()),
    clientCaFile: Type.Optional(Type.String()),
  }),
  /** RFC 9440 header carrying the client certificate from a trusted TLS-terminating proxy. */
  clientCertHeader: Type.Optional(Type.String({ minLength: 1 })),
  trustedProxies: Type.Array(Type.String()),
  /** JWKS of the directory's SSA signing keys (`https://…` or `file://…`). */
  directoryJwksUrl: Type.Optional(Type.String()),
  /** Trusted SSA issuers; empty only in a profile whose SSA is optional (rfc7591). */
  ssaIssuers: Type.Array(Type.String({ minLength: 1 })),
  audiences: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  profile: Type.Enum(PROFILE_NAMES),
  /** host[:port] allow-list for every outbound fetch. */
  allowedFetchHosts: Type.Array(Type.String({ minLength: 1 })),
  outboundCaFile: Type.Optional(Type.String()),
  sandbox: Type.Boolean(),
  sandboxPort: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** Base URL of the sandbox directory as other services reach it (compose: https://directory-sandbox:8444). */
  sandboxUrl: Type.String({ pattern: '^https://' }),
  syncWaitMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  admin: Type.Object({
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    token: Type.Optional(Type.String({ minLength: 16 })),
  }),
  mongoUrl: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://' })),
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  kafkaBrokers: Type.Optional(Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$' }), { minItems: 1 })),
  /** Prefix for Kafka topics, BullMQ queues and Mongo collections: isolates tenants and test runs. */
  namespace: Type.String({ pattern: '^[a-z0-9_-]*$' }),
  dataDir: Type.String({ minLength: 1 }),
  /** 32-byte key (base64) sealing registration access tokens until their one delivery window ends. */
  tokenSealingKey: Type.Optional(Type.String()),
  /** Clock leeway for `exp`/`iat` (SPEC §2.4: default 30 s, never more than 60 s). */
  leewaySeconds: Type.Integer({ minimum: 0, maximum: 60 }),
  /** Maximum accepted `exp - iat` of a request JWT (SPEC §2.4: at least 3600). */
  maxRequestLifetimeSeconds: Type.Integer({ minimum: 60, maximum: 86_400 }),
  /**
   * SSA maximum age (`now - iat`). Absent: the profile's own rule (Open Finance Brasil: 300 s; the
   * others none). A number tightens it; null (`off`) switches off only a limit the profile does not
   * mandate: a profile's own maximum age always holds (core/profiles `ssa.time.maxAgeSeconds`).
   */
  ssaMaxAgeSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  /**
   * RFC 7592 §2.2 registration access token rotation on update (`DCR_ROTATE_REGISTRATION_TOKEN`).
   * Absent: the profile's default (`management.tokenRotation`); a profile that forbids rotation
   * (Open Finance Brasil) refuses `1` at start-up.
   */
  rotateRegistrationToken: Type.Optional(Type.Boolean()),
  /** Attempts per stage before a registration is `failed` (BullMQ attempts). */
  stageAttempts: Type.Integer({ minimum: 1, maximum: 50 }),
  /** Base delay of the exponential retry backoff. */
  retryBaseDelayMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
  /** Concurrency of each stage worker. */
  workerConcurrency: Type.Integer({ minimum: 1, maximum: 512 }),
  /** Outbound fetch limits (SPEC §10.3). */
  fetch: Type.Object({
    connectTimeoutMs: Type.Integer({ minimum: 1 }),
    totalTimeoutMs: Type.Integer({ minimum: 1 }),
    maxBytes: Type.Integer({ minimum: 1 }),
    cacheMaxAgeSeconds: Type.Integer({ minimum: 0 }),
  }),
  /** Directory revocation policy (SPEC §9). */
  revocation: Type.Object({
    /** Checks run by the revocation stage (`DCR_REVOCATION_CHECKS`). */
    checks: Type.Array(Type.Enum(REVOCATION_CHECKS), { uniqueItems: true }),
    /** Checks whose source being unreachable is tolerated (recorded), never the default (`DCR_REVOCATION_SOFT_FAIL`). */
    softFail: Type.Array(Type.Enum(REVOCATION_CHECKS), { uniqueItems: true }),
    /** Base of a CDR Register-shaped status API, e.g. `https://register/cdr-register/v1/banking` (`DCR_DIRECTORY_STATUS_URL`). */
    statusUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    /** OCSP `unknown`: retry (default) or reject (`DCR_OCSP_UNKNOWN`). */
    ocspUnknown: Type.Union([Type.Literal('retry'), Type.Literal('reject')]),
  }),
  /**
   * JSON file listing the custom validators (SPEC §12): `[{name, module, enabled, priority, options,
   * profiles}]`, module paths relative to the file (`DCR_VALIDATORS_FILE`). Unset: none.
   */
  validatorsFile: Type.Optional(Type.String({ minLength: 1 })),
  /** How long the sealed registration access token stays deliverable to the submitter (poll / resubmit). */
  resultTtlSeconds: Type.Integer({ minimum: 60 }),
  /** Slow-client bounds of the mTLS and admin listeners (SECURITY.md "Slow clients"). */
  httpTimeouts: Type.Object({
    /** Request line and headers must arrive within this (`DCR_HEADERS_TIMEOUT_MS`, default 10 s). */
    headersMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
    /** The whole request, body included, within this (`DCR_REQUEST_TIMEOUT_MS`, default 30 s). */
    requestMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
  }),
  /** What the store keeps, and for how long (README "Retention"). */
  retention: Type.Object({
    /** Rejected requests, body included, are deleted this long after rejection (`DCR_RETENTION_REJECTED_SECONDS`). */
    rejectedSeconds: Type.Integer({ minimum: 60 }),
    /** Registered requests keep a compact record and their history this long (`DCR_RETENTION_AUDIT_SECONDS`). */
    auditSeconds: Type.Integer({ minimum: 60 }),
    /** Requests of one TPP still in progress at once; more get 429 (`DCR_MAX_IN_FLIGHT_PER_TPP`; 0: no quota). */
    maxInFlightPerTpp: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    /** How often the leader purges (`DCR_RETENTION_PURGE_INTERVAL_SECONDS`; 0: never). */
    purgeIntervalSeconds: Type.Integer({ minimum: 0, maximum: 86_400 }),
  }),
  /** Reference notifier (services/notifier): signed webhooks for registration outcomes. */
  notifier: Type.Object({
    /** https only (the outbound fetcher's rule); its host is allowed implicitly. */
    webhookUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    /** HMAC-SHA256 key of the `X-DCR-Signature` header; never logged. */
    webhookSecret: Type.Optional(Type.String({ minLength: 32 })),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20 }),
    retryBaseDelayMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
    timeoutMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
  }),
  /** Intake protections (SPEC §10 hardening): per-TPP rate limit and load shedding; 0 disables either. */
  protection: Type.Object({
    /** Requests per minute per TPP identity (else per address) on the mTLS port (`DCR_RATE_LIMIT_PER_MINUTE`). */
    rateLimitPerMinute: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    /** Answer 503 + Retry-After while the event loop delay exceeds this (`DCR_MAX_EVENT_LOOP_DELAY_MS`). */
    maxEventLoopDelayMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
    /** Answer 503 + Retry-After while the V8 heap in use exceeds this many bytes (`DCR_MAX_HEAP_USED_BYTES`). */
    maxHeapUsedBytes: Type.Integer({ minimum: 0 }),
  }),
  /**
   * The bank's authorization server (CONTRACT "Authorization server"): management accepts its
   * client-credentials access tokens (JWT by `jwksUrl`, or opaque by RFC 7662 introspection).
   */
  as: Type.Object({
    /** Expected `iss` of AS access tokens (`DCR_AS_ISSUER`). */
    issuer: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    /** JWKS of the AS's access-token signing keys (`DCR_AS_JWKS_URL`). */
    jwksUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    /** RFC 7662 introspection endpoint for opaque tokens (`DCR_AS_INTROSPECTION_URL`). */
    introspectionUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    introspectionClientId: Type.Optional(Type.String({ minLength: 1 })),
    /** Never logged. */
    introspectionClientSecret: Type.Optional(Type.String({ minLength: 1 })),
    /** Listener of the sandbox AS (`DCR_AS_PORT`). */
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    /**
     * Accepted `aud` of AS access tokens (RFC 9068 §4), `DCR_AS_TOKEN_AUDIENCE`; unset: the intake's
     * public URL and `DCR_AUDIENCE`.
     */
    tokenAudiences: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1 })),
    /**
     * How clients reach the bank's AS before `registered` is answered (`DCR_AS_PROVISIONING`):
     * `sandbox` (the sandbox AS's store, synchronously), `keycloak` (its Admin REST API), `events`
     * (the consumer groups `eventGroups` must have applied the client event: a read-your-writes
     * barrier), `store` (the AS reads our client store; registered = committed there).
     * Default `sandbox` in the sandbox; required otherwise.
     */
    provisioning: Type.Enum(AS_PROVISIONING_MODES),
    /** `events`: consumer groups on `dcr.client.v1` that must have applied a client's event (`DCR_AS_EVENT_GROUPS`). */
    eventGroups: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,200}$' })),
    /** `keycloak`: the realm and the service account (manage-clients) the provisioner uses. */
    keycloak: Type.Object({
      /** Base URL, e.g. `https://keycloak:8443` (`DCR_KEYCLOAK_URL`). */
      url: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
      /** `DCR_KEYCLOAK_REALM`. */
      realm: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' })),
      /** Service-account client id (`DCR_KEYCLOAK_CLIENT_ID`). */
      clientId: Type.Optional(Type.String({ minLength: 1 })),
      /** Never logged (`DCR_KEYCLOAK_CLIENT_SECRET`). */
      clientSecret: Type.Optional(Type.String({ minLength: 1 })),
    }),
  }),
  /**
   * OpenTelemetry tracing (platform/observability/tracing.ts) from the standard OTEL_* variables. Off
   * unless OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER
   * asks for it; OTEL_SDK_DISABLED=true turns it off whatever else is set.
   */
  tracing: Type.Object({
    enabled: Type.Boolean(),
    /** `OTEL_TRACES_EXPORTER`: otlp and/or console (`none`: off). */
    exporters: Type.Array(Type.Union([Type.Literal('otlp'), Type.Literal('console')]), { uniqueItems: true }),
    /** The OTLP/HTTP traces URL (…/v1/traces). */
    endpoint: Type.String({ pattern: '^https?://[^\\s]+$' }),
    protocol: Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')]),
    /** `OTEL_EXPORTER_OTLP_HEADERS` (an API key, say): sent to the collector only, never logged. */
    headers: Type.Record(Type.String(), Type.String()),
    timeoutMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
    /** `OTEL_SERVICE_NAME`; unset: `dcr-<service>` (dcr-intake, dcr-standalone…). */
    serviceName: Type.Optional(Type.String({ minLength: 1 })),
    resourceAttributes: Type.Record(Type.String(), Type.String()),
    sampler: Type.Enum(TRACES_SAMPLERS),
    /** `OTEL_TRACES_SAMPLER_ARG`: the ratio of the traceidratio samplers. */
    samplerRatio: Type.Number({ minimum: 0, maximum: 1 }),
  }),
  /** BullMQ job lock, renewed while a job runs: a dead or paused worker's job moves on after ≤ 1.5 × this (`DCR_QUEUE_LEASE_MS`). */
  queueLeaseMs: Type.Integer({ minimum: 2000, maximum: 600_000 }),
  /** How often the reconciler looks for requests stranded without a job, and how old they must be (`DCR_RECONCILE_INTERVAL_MS`, `DCR_RECONCILE_AFTER_MS`; 0 = off). */
  reconcile: Type.Object({
    intervalMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
    afterMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
  }),
  /** Idle poll interval of the outbox relay; commits wake it at once (`DCR_RELAY_INTERVAL_MS`). */
  relayIntervalMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  /** `json` (one JSON object a line) or `pretty` (pino-pretty, for people); unset: json, except `npm start` on a terminal. */
  logFormat: Type.Optional(Type.Enum(['json', 'pretty'] as const)),
});

export type Config = Static<typeof ConfigSchema>;
export type ProfileName = Config['profile'];
