import { Option, type Command } from 'commander';
import type { Config } from '../../../platform/config/schema.js';
import type { SandboxDirectory } from '../../directory-sandbox/index.js';
import { sandboxState } from '../../standalone/sandbox-notices.js';
import { cliConfig, openSandbox } from '../context.js';
import { CliError } from '../exit.js';
import { parseRoles } from '../options.js';
import { print } from '../output.js';

/** `sandbox …`: the sandbox regulated directory. */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program.command('sandbox').description('the sandbox regulated directory');
  const tpp = sandbox.command('tpp').description('sandbox TPPs');
  tpp
    .command('create <name>')
    .description('create a TPP: transport and signing keys and certificates, and a software statement')
    .addOption(new Option('--roles <roles>', 'comma-separated roles (AISP, PISP, CBPII, ASPSP; DADOS, PAGTO, CONTA, CCORR)').argParser(parseRoles).default(['AISP', 'PISP'], 'AISP,PISP'))
    .addOption(new Option('--alg <alg>', 'signing algorithm').choices(['PS256', 'ES256']).default('PS256'))
    .option('--redirect-uri <uri...>', 'redirect URIs in the software statement')
    .action(async (name: string, opts: { roles: string[]; alg: 'PS256' | 'ES256'; redirectUri?: string[] }) => {
      const config = cliConfig();
      // The one command that may create the sandbox (CA, directory key) in the data directory found.
      const dir = await openSandbox(config, { create: true });
      if (await dir.getTpp(name)) throw new CliError('usage', `a sandbox TPP named '${name}' exists already (dcr-pipeline sandbox tpp list)`);
      const created = await dir.createTpp(name, {
        roles: opts.roles,
        signingAlg: opts.alg,
        ...(opts.redirectUri ? { redirectUris: opts.redirectUri } : {}),
      });
      print({ name: created.name, org_id: created.orgId, software_id: created.softwareId, roles: created.roles, kid: created.signingKid, files: created.dir });
      process.stderr.write(`next: dcr-pipeline register --tpp ${created.name}\n`);
    });
  tpp
    .command('list')
    .description('the sandbox TPPs in the data directory, with their ids and what is revoked')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig();
      const dir = await openSandbox(config);
      const [tpps, state] = await Promise.all([dir.listTpps(), sandboxState(dir)]);
      const revoked = new Map(state.revoked.map((r) => [r.tpp, r.what]));
      const rows = tpps.map((t) => ({ name: t.name, org_id: t.orgId, software_id: t.softwareId, roles: t.roles, signing_alg: t.signingAlg, revoked: revoked.get(t.name) ?? [] }));
      if (opts.json) return print({ data_dir: config.dataDir, outage: state.outage, tpps: rows });
      if (rows.length === 0) process.stdout.write(`no sandbox TPPs in ${config.dataDir} yet (dcr-pipeline sandbox tpp create NAME)\n`);
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(16)}  org ${r.org_id}  software ${r.software_id}  ${r.roles.join(',')}  ${r.signing_alg}${r.revoked.length ? `  revoked: ${r.revoked.join(', ')}` : ''}\n`);
      }
      if (state.outage) process.stderr.write('note: the sandbox outage is on (dcr-pipeline sandbox outage off)\n');
    });

  registerRevocationCommands(sandbox);
}

/** A TPP name, or else the id itself (an organisation or software id created by the sandbox). */
async function resolveId(dir: SandboxDirectory, nameOrId: string, field: 'orgId' | 'softwareId'): Promise<{ id: string; tpp?: string }> {
  const tpp = await dir.getTpp(nameOrId);
  return tpp ? { id: tpp[field], tpp: tpp.name } : { id: nameOrId };
}

/**
 * What the next registration will really do: the pipeline caches the directory's answers (status
 * API, JWKS, CRL, OCSP) for as long as their Cache-Control allows, capped by
 * DCR_FETCH_CACHE_MAX_AGE_SECONDS; the sandbox directory says max-age=60.
 */
function cacheSeconds(config: Config): number {
  return Math.min(60, config.fetch.cacheMaxAgeSeconds);
}

function expectOutcome(config: Config, what: string, tpp?: string): void {
  const register = `dcr-pipeline register --tpp ${tpp ?? 'NAME'}`;
  const cache = cacheSeconds(config);
  process.stderr.write(
    cache > 0
      ? `next: ${register}\n  expect 400 unapproved_software_statement (${what}) once the pipeline's cached directory answer has expired:\n` +
          `  up to ${cache} s after the pipeline last asked about this TPP (the sandbox directory answers Cache-Control: max-age=60,\n` +
          `  DCR_FETCH_CACHE_MAX_AGE_SECONDS=${config.fetch.cacheMaxAgeSeconds} caps it). Until then a register still succeeds.\n`
      : `next: ${register}  (expect 400 unapproved_software_statement: ${what}; DCR_FETCH_CACHE_MAX_AGE_SECONDS=0, nothing is cached)\n`,
  );
}

/**
 * `sandbox revoke org|software|key|cert …` and `sandbox outage on|off`: make the sandbox directory
 * say no (or nothing) so that each revocation outcome can be seen. The running sandbox server sees
 * the change at its next request (shared state file).
 */
function registerRevocationCommands(sandbox: Command): void {
  const revoke = sandbox.command('revoke').description('revoke an organisation, software, signing key or transport certificate in the sandbox directory');
  const open = async (): Promise<{ config: Config; dir: SandboxDirectory }> => {
    const config = cliConfig();
    return { config, dir: await openSandbox(config) };
  };
  const requireTpp = async (dir: SandboxDirectory, name: string) => {
    const tpp = await dir.getTpp(name);
    if (!tpp) throw new CliError('usage', `no sandbox TPP named '${name}' (dcr-pipeline sandbox tpp list)`);
    return tpp;
  };
  revoke
    .command('org <tpp-or-org-id>')
    .description('mark the organisation Revoked (status API REVOKED; new SSAs carry org_status Revoked)')
    .action(async (nameOrId: string) => {
      const { config, dir } = await open();
      const { id, tpp } = await resolveId(dir, nameOrId, 'orgId');
      await dir.revokeOrganisation(id);
      print({ revoked: 'organisation', org_id: id, status: await dir.organisationStatus(id) });
      expectOutcome(config, 'the organisation is not active in the directory', tpp);
    });
  revoke
    .command('software <tpp-or-software-id>')
    .description('mark the software Inactive (status API INACTIVE)')
    .action(async (nameOrId: string) => {
      const { config, dir } = await open();
      const { id, tpp } = await resolveId(dir, nameOrId, 'softwareId');
      await dir.revokeSoftware(id);
      print({ revoked: 'software', software_id: id, status: await dir.softwareStatus(id) });
      expectOutcome(config, 'the software is not active in the directory', tpp);
    });
  revoke
    .command('key <tpp>')
    .description("move the TPP's request signing key to the revoked JWKS")
    .action(async (name: string) => {
      const { config, dir } = await open();
      const tpp = await requireTpp(dir, name);
      await dir.revokeSigningKey(name);
      print({ revoked: 'signing key', tpp: name, kid: tpp.signingKid, revoked_jwks: tpp.softwareJwksRevokedUrl });
      expectOutcome(config, 'the signing key is gone from the software JWKS and listed as revoked', name);
    });
  revoke
    .command('cert <tpp>')
    .description("revoke the TPP's transport certificate: CRL and OCSP, and the revoked JWKS unless --crl-only")
    .option('--crl-only', 'list it in the CRL / OCSP only, not in the revoked JWKS (exercises the CRL and OCSP checks)')
    .action(async (name: string, opts: { crlOnly?: boolean }) => {
      const { config, dir } = await open();
      const tpp = await requireTpp(dir, name);
      await dir.revokeTransportCertificate(name, { revokedJwks: opts.crlOnly !== true });
      print({ revoked: 'transport certificate', tpp: name, serial: tpp.transportSerial, crl: dir.crlUrl, ocsp: dir.ocspUrl, revoked_jwks: opts.crlOnly !== true });
      expectOutcome(config, opts.crlOnly ? "revoked by its CA's CRL / OCSP" : 'revoked in the directory', name);
    });

  sandbox
    .command('outage <state>')
    .description('on: the sandbox directory answers 503 to everything (registrations then retry and end failed, replayable); off: back to normal. It persists across restarts')
    .action(async (state: string) => {
      const on = ['on', 'true', '1'].includes(state.toLowerCase());
      if (!on && !['off', 'false', '0'].includes(state.toLowerCase())) throw new CliError('usage', `outage takes on or off, got '${state}'`);
      const { config, dir } = await open();
      await dir.setOutage(on);
      print({ outage: on });
      const cache = cacheSeconds(config);
      process.stderr.write(
        on
          ? 'next: dcr-pipeline register --tpp NAME --async\n' +
              `  a TPP the pipeline looked at in the last ${cache} s still registers from its cached directory answers\n` +
              `  (the sandbox's max-age=60, capped by DCR_FETCH_CACHE_MAX_AGE_SECONDS); any other makes ${config.stageAttempts} attempts\n` +
              '  and ends failed (exit code 4), replayable once the outage is off:\n' +
              '  dcr-pipeline ops replay --all. AS token calls that need the directory (its JWKS) fail meanwhile.\n' +
              '  The outage persists across restarts until: dcr-pipeline sandbox outage off\n'
          : 'the sandbox directory answers again; replay the failed registrations (dcr-pipeline ops replay --all) or submit again\n',
      );
    });
}
