import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError } from './exit.js';

/** The repository's package name: the directory holding this package.json is the project root. */
export const PACKAGE_NAME = 'dcr-pipeline';

function isProjectRoot(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

function hasSandbox(dir: string): boolean {
  try {
    return statSync(join(dir, 'var', 'sandbox')).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The data directory the CLI works on, found the way git finds `.git`: DCR_DATA_DIR when set;
 * otherwise, walking up from `cwd`, the `var/` of the first directory that is the dcr-pipeline
 * checkout (package.json named dcr-pipeline) or already holds a sandbox (`var/sandbox/`).
 * Anywhere else it refuses, so that a command run in the wrong directory never starts a second
 * sandbox (a new CA and new keys) there.
 */
export function findDataDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  if (env.DCR_DATA_DIR !== undefined && env.DCR_DATA_DIR !== '') return resolve(cwd, env.DCR_DATA_DIR);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (isProjectRoot(dir) || hasSandbox(dir)) return join(dir, 'var');
    if (dirname(dir) === dir) break;
  }
  throw new CliError(
    'config',
    `no DCR data directory found from ${resolve(cwd)} upwards: run dcr-pipeline inside the dcr-pipeline checkout (or a subdirectory of it), or set DCR_DATA_DIR`,
  );
}

/** The data directory's sandbox, which only `sandbox tpp create` (and `npm start`) may create. */
export function requireSandbox(dataDir: string): void {
  if (!existsSync(join(dataDir, 'sandbox'))) {
    throw new CliError('usage', `no sandbox in ${dataDir} yet: create a TPP first (dcr-pipeline sandbox tpp create NAME) or start the pipeline (npm start)`);
  }
}
