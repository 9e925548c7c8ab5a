import { loadConfig } from '../../platform/config/load.js';
import type { Config } from '../../platform/config/schema.js';
import { SandboxDirectory, sandboxDirectoryOptions } from '../directory-sandbox/index.js';
import { findDataDir, requireSandbox } from './data-dir.js';

/** The configuration the CLI runs with: the environment's, with the data directory found by {@link findDataDir}. */
export function cliConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig({ ...env, DCR_DATA_DIR: findDataDir(env) }, { sandboxByDefault: true });
}

/** The sandbox directory in the data directory; refuses (rather than creating one) unless `create`. */
export async function openSandbox(config: Config, options: { create?: boolean } = {}): Promise<SandboxDirectory> {
  if (!options.create) requireSandbox(config.dataDir);
  // The profile's ecosystem (CDR Register, Brasil directory) decides the SSA and certificate shapes.
  return SandboxDirectory.open(sandboxDirectoryOptions(config));
}
