import { ConfigurationError } from '../../core/domain/errors.js';
import type { Config } from './schema.js';
import { flatten, resolverFor, type LoadOptions } from './settings.js';
import { VARIABLES } from './variables.js';

export type { LoadOptions } from './settings.js';

type Env = Record<string, string | undefined>;

/** The variables a process outside the sandbox cannot start without, and what each one is for (the table's `requiredOutsideSandbox`). */
export const REQUIRED_OUTSIDE_SANDBOX: readonly (readonly [variable: string, why: string])[] = flatten(VARIABLES).flatMap(({ setting }) =>
  setting.requiredOutsideSandbox ? [[setting.env, setting.requiredOutsideSandbox] as const] : [],
);

/**
 * Builds the configuration from environment variables with the table's parsers and defaults
 * (platform/config/variables.ts). Throws {@link ConfigurationError} naming the first invalid
 * variable, in one line: the variable, the value's problem and the allowed form.
 */
export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const { resolver, build } = resolverFor(VARIABLES, env, options);
  if (!resolver.get<boolean>('sandbox')) {
    const missing = REQUIRED_OUTSIDE_SANDBOX.filter(([variable]) => resolver.raw(variable) === undefined);
    if (missing.length > 0) {
      const [[variable, why], ...others] = missing as [(typeof missing)[number], ...(typeof missing)[number][]];
      const also = others.length > 0 ? `; also missing: ${others.map(([v, w]) => `${v} (${w})`).join(', ')}` : '';
      throw new ConfigurationError(variable, `required when DCR_SANDBOX=0 (${why})${also}. Trust is never implied outside the sandbox: \`npm start\` runs the sandbox`);
    }
  }
  const config = build();
  checkTogether(config);
  return config;
}

/** The rules that involve several variables (each variable's own rules are in the table). */
function checkTogether(config: Config): void {
  if (config.as.introspectionUrl && (!config.as.introspectionClientId || !config.as.introspectionClientSecret)) {
    throw new ConfigurationError('DCR_AS_INTROSPECTION_CLIENT_ID', 'DCR_AS_INTROSPECTION_URL needs DCR_AS_INTROSPECTION_CLIENT_ID and DCR_AS_INTROSPECTION_CLIENT_SECRET');
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
}

/**
 * Some top-level settings only, with their defaults and validation (a process that needs a few,
 * such as the stand-alone sandbox directory): the other variables are not read.
 */
export function loadSettings<K extends keyof Config>(env: Env, keys: readonly K[], options: LoadOptions = {}): Pick<Config, K> {
  return resolverFor(VARIABLES, env, options).build(keys as readonly string[]) as Pick<Config, K>;
}

/** The same, without defaults: only what the environment sets (validated). */
export function givenSettings<K extends keyof Config>(env: Env, keys: readonly K[]): Partial<Pick<Config, K>> {
  return resolverFor(VARIABLES, env, {}, { givenOnly: true }).build(keys as readonly string[]) as Partial<Pick<Config, K>>;
}

export function isDistributed(config: Config): boolean {
  return config.mongoUrl !== undefined;
}
