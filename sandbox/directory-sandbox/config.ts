/** Configuration of the stand-alone sandbox directory process, from the configuration table (platform/config/variables.ts). */
import { isProfileName, PROFILES } from '../../core/profiles/index.js';
import { givenSettings, loadSettings } from '../../platform/config/load.js';
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
  // Only the settings this process uses: DCR_DATA_DIR, DCR_SANDBOX_HOST, DCR_SANDBOX_PORT, DCR_SANDBOX_BASE_URL, DCR_PROFILE (and DCR_SANDBOX_JWKS_CACHE_CONTROL below).
  const config = loadSettings(env, ['dataDir', 'sandboxHost', 'sandboxPort', 'sandboxUrl', 'profile']);
  // DCR_SSA_ISSUER may list several accepted issuers (comma list); the sandbox issues as the first.
  const ssaIssuer = givenSettings(env, ['ssaIssuers']).ssaIssuers?.[0];
  const ecosystem = ecosystemOfProfile(config.profile);
  // CDR / Brasil: sign as that directory (the pipeline trusts the profile's issuer by default).
  const issuer = ssaIssuer ?? (ecosystem !== 'obie' && isProfileName(config.profile) ? PROFILES[config.profile].ssa.defaultIssuers[0] : undefined);
  const { sandboxJwksCacheControl: jwksCacheControl } = givenSettings(env, ['sandboxJwksCacheControl']);
  return { dataDir: config.dataDir, host: config.sandboxHost, port: config.sandboxPort, baseUrl: config.sandboxUrl, ssaIssuer: issuer, ecosystem, jwksCacheControl };
}
