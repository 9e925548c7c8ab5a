import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigurationError } from '../../core/domain/errors.js';
import { registerOpsCommands } from './commands/ops.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { registerTppCommands } from './commands/tpp.js';
import { registerTokenCommands } from './commands/token.js';
import { PACKAGE_NAME } from './data-dir.js';
import { CliError, EXIT } from './exit.js';

/** The version in the package.json above this module (sandbox/cli/ from source, dist/sandbox/cli/ when built). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** The `dcr-pipeline` CLI: one module per command group under sandbox/cli/commands/, registered here. */
export function buildCli(): Command {
  const program = new Command(PACKAGE_NAME)
    .description('Dynamic Client Registration pipeline: sandbox, TPP and operations commands')
    .version(`${PACKAGE_NAME} ${packageVersion()} (node ${process.version})`, '-V, --version')
    .showHelpAfterError()
    // Usage errors throw (and exit 2 below) instead of exiting 1 inside commander; inherited by every subcommand.
    .exitOverride();
  registerSandboxCommands(program);
  registerTppCommands(program);
  registerOpsCommands(program);
  registerTokenCommands(program);
  return program;
}

/** Runs the CLI; sets process.exitCode to one of {@link EXIT} (README "The CLI: exit codes"). */
export async function run(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (and the help hint); help and --version exit 0.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (error instanceof CliError) {
      process.stderr.write(`${PACKAGE_NAME}: ${error.message}\n`);
      process.exitCode = EXIT[error.exit];
      return;
    }
    if (error instanceof ConfigurationError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exitCode = EXIT.config;
      return;
    }
    process.stderr.write(`${PACKAGE_NAME}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.error;
  }
}
