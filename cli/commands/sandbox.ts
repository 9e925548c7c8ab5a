import { Option, type Command } from 'commander';
import { loadConfig } from '../../shared/config/load.js';
import { SandboxDirectory } from '../../services/directory-sandbox/index.js';
import { print } from '../output.js';

/** `dcr sandbox …`: the sandbox regulated directory. */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program.command('sandbox').description('the sandbox regulated directory');
  const tpp = sandbox.command('tpp').description('sandbox TPPs');
  tpp
    .command('create <name>')
    .description('create a TPP: transport and signing keys and certificates, and a software statement')
    .option('--roles <roles>', 'comma-separated roles', 'AISP,PISP')
    .addOption(new Option('--alg <alg>', 'signing algorithm').choices(['PS256', 'ES256']).default('PS256'))
    .option('--redirect-uri <uri...>', 'redirect URIs in the software statement')
    .action(async (name: string, opts: { roles: string; alg: 'PS256' | 'ES256'; redirectUri?: string[] }) => {
      const config = loadConfig();
      const dir = await SandboxDirectory.open({ dataDir: config.dataDir, baseUrl: config.sandboxUrl });
      const created = await dir.createTpp(name, {
        roles: opts.roles.split(',').map((r) => r.trim()).filter(Boolean),
        signingAlg: opts.alg,
        ...(opts.redirectUri ? { redirectUris: opts.redirectUri } : {}),
      });
      print({ name: created.name, org_id: created.orgId, software_id: created.softwareId, roles: created.roles, kid: created.signingKid, files: created.dir });
      process.stderr.write(`next: npx dcr register --tpp ${created.name}\n`);
    });

}
