import { Command } from 'commander';
import { ConfigurationError } from '../shared/domain/errors.js';
import { registerOpsCommands } from './commands/ops.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { registerTppCommands } from './commands/tpp.js';
import { registerTokenCommands } from './commands/token.js';

/** The `dcr` CLI: one module per command group under cli/commands/, registered here. */
export function buildCli(): Command {
  const program = new Command('dcr').description('Dynamic Client Registration pipeline: sandbox, TPP and operations commands').showHelpAfterError();
  registerSandboxCommands(program);
  registerTppCommands(program);
  registerOpsCommands(program);
  registerTokenCommands(program);
  return program;
}

export async function run(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigurationError) process.stderr.write(`configuration error: ${error.message}\n`);
    else process.stderr.write(`dcr: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
