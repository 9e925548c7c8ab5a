/** Environment configuration of the stand-alone sandbox directory process. */
import { ConfigurationError } from '../../core/domain/errors.js';
import { isProfileName, PROFILES } from '../../core/profiles/index.js';
import { ecosystemOfProfile, type SandboxEcosystem } from './ssa.js';

export interface SandboxProcessConfig {
  dataDir: string;
  host: string;
  port: number;
  baseUrl: string;
  ssaIssuer: string | undefined;
  /** From DCR_PROFILE: which directory the sandbox plays. */
  ecosystem: SandboxEcosystem;
  /** DCR_SANDBOX_JWKS_CACHE_CONTROL: `Cache-Control` of the JWKS answers (tests and the benchmark; default max-age=60). */
  jwksCacheControl: string | undefined;
}

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxProcessConfig {
  const dataDir = env.DCR_DATA_DIR || './var';
  const host = env.DCR_SANDBOX_HOST || '127.0.0.1';
  const rawPort = env.DCR_SANDBOX_PORT || '8444';
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) > 65535) {
    throw new ConfigurationError('DCR_SANDBOX_PORT', `must be a port number 0-65535, got ${JSON.stringify(rawPort)}`);
  }
  const port = Number(rawPort);
  const baseUrl = env.DCR_SANDBOX_BASE_URL || `https://localhost:${port}`;
  if (!URL.canParse(baseUrl) || new URL(baseUrl).protocol !== 'https:') {
    throw new ConfigurationError('DCR_SANDBOX_BASE_URL', `must be an https URL, got ${JSON.stringify(baseUrl)}`);
  }
  // DCR_SSA_ISSUER may list several accepted issuers (comma list); the sandbox issues as the first.
  const ssaIssuer = env.DCR_SSA_ISSUER?.split(',').map((s) => s.trim()).find((s) => s !== '');
  const profile = env.DCR_PROFILE ?? 'obie-3.3';
  const ecosystem = ecosystemOfProfile(profile);
  // CDR / Brasil: sign as that directory (the pipeline trusts the profile's issuer by default).
  const issuer = ssaIssuer ?? (ecosystem !== 'obie' && isProfileName(profile) ? PROFILES[profile].ssa.defaultIssuers[0] : undefined);
  const jwksCacheControl = env.DCR_SANDBOX_JWKS_CACHE_CONTROL?.trim() || undefined;
  if (jwksCacheControl !== undefined && !/^[\w=, -]{1,100}$/.test(jwksCacheControl)) {
    throw new ConfigurationError('DCR_SANDBOX_JWKS_CACHE_CONTROL', `must be a Cache-Control value such as no-store, got ${JSON.stringify(jwksCacheControl)}`);
  }
  return { dataDir, host, port, baseUrl: baseUrl.replace(/\/+$/, ''), ssaIssuer: issuer, ecosystem, jwksCacheControl };
}
