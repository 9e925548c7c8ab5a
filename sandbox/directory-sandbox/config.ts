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
}

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxProcessConfig {
  // Only the settings this process uses: DCR_DATA_DIR, DCR_SANDBOX_HOST, DCR_SANDBOX_PORT, DCR_SANDBOX_BASE_URL, DCR_PROFILE.
  const config = loadSettings(env, ['dataDir', 'sandboxHost', 'sandboxPort', 'sandboxUrl', 'profile']);
  // DCR_SSA_ISSUER may list several accepted issuers (comma list); the sandbox issues as the first.
  const ssaIssuer = givenSettings(env, ['ssaIssuers']).ssaIssuers?.[0];
  const ecosystem = ecosystemOfProfile(config.profile);
  // CDR / Brasil: sign as that directory (the pipeline trusts the profile's issuer by default).
  const issuer = ssaIssuer ?? (ecosystem !== 'obie' && isProfileName(config.profile) ? PROFILES[config.profile].ssa.defaultIssuers[0] : undefined);
  return { dataDir: config.dataDir, host: config.sandboxHost, port: config.sandboxPort, baseUrl: config.sandboxUrl, ssaIssuer: issuer, ecosystem };
}
