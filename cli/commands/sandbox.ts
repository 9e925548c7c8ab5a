import { Option, type Command } from 'commander';
import { loadConfig } from '../../shared/config/load.js';
import { SandboxDirectory, sandboxDirectoryOptions } from '../../services/directory-sandbox/index.js';
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
      const dir = await SandboxDirectory.open(sandboxDirectoryOptions(config));
      const created = await dir.createTpp(name, {
        roles: opts.roles.split(',').map((r) => r.trim()).filter(Boolean),
        signingAlg: opts.alg,
        ...(opts.redirectUri ? { redirectUris: opts.redirectUri } : {}),
      });
      print({ name: created.name, org_id: created.orgId, software_id: created.softwareId, roles: created.roles, kid: created.signingKid, files: created.dir });
      process.stderr.write(`next: npx dcr register --tpp ${created.name}\n`);
    });

  registerRevocationCommands(sandbox);

}

async function openSandbox(): Promise<SandboxDirectory> {
  const config = loadConfig();
  return SandboxDirectory.open(sandboxDirectoryOptions(config));
}

/** A TPP name, or else the id itself (an organisation or software id created by the sandbox). */
async function resolveId(dir: SandboxDirectory, nameOrId: string, field: 'orgId' | 'softwareId'): Promise<{ id: string; tpp?: string }> {
  const tpp = await dir.getTpp(nameOrId);
  return tpp ? { id: tpp[field], tpp: tpp.name } : { id: nameOrId };
}

function expectOutcome(what: string, tpp?: string): void {
  const register = tpp ? `npx dcr register --tpp ${tpp}` : 'npx dcr register --tpp NAME';
  process.stderr.write(`next: ${register}  (expect 400 unapproved_software_statement: ${what})\n`);
}

/**
 * `dcr sandbox revoke org|software|key|cert …` and `dcr sandbox outage on|off`: make the sandbox
 * directory say no (or nothing) so that each revocation outcome can be seen (SPEC §9). The running
 * sandbox server sees the change at its next request (shared state file).
 */
function registerRevocationCommands(sandbox: Command): void {
  const revoke = sandbox.command('revoke').description('revoke an organisation, software, signing key or transport certificate in the sandbox directory');
  revoke
    .command('org <tpp-or-org-id>')
    .description('mark the organisation Revoked (status API REVOKED; new SSAs carry org_status Revoked)')
    .action(async (nameOrId: string) => {
      const dir = await openSandbox();
      const { id, tpp } = await resolveId(dir, nameOrId, 'orgId');
      await dir.revokeOrganisation(id);
      print({ revoked: 'organisation', org_id: id, status: await dir.organisationStatus(id) });
      expectOutcome('the organisation is not active in the directory', tpp);
    });
  revoke
    .command('software <tpp-or-software-id>')
    .description('mark the software Inactive (status API INACTIVE)')
    .action(async (nameOrId: string) => {
      const dir = await openSandbox();
      const { id, tpp } = await resolveId(dir, nameOrId, 'softwareId');
      await dir.revokeSoftware(id);
      print({ revoked: 'software', software_id: id, status: await dir.softwareStatus(id) });
      expectOutcome('the software is not active in the directory', tpp);
    });
  revoke
    .command('key <tpp>')
    .description("move the TPP's request signing key to the revoked JWKS")
    .action(async (name: string) => {
      const dir = await openSandbox();
      const tpp = await dir.getTpp(name);
      if (!tpp) throw new Error(`unknown sandbox TPP "${name}"`);
      await dir.revokeSigningKey(name);
      print({ revoked: 'signing key', tpp: name, kid: tpp.signingKid, revoked_jwks: tpp.softwareJwksRevokedUrl });
      process.stderr.write(
        `next: npx dcr register --tpp ${name}  (expect 400: the key is gone from the software JWKS, or, while a verifier still caches it, revoked in the directory)\n`,
      );
    });
  revoke
    .command('cert <tpp>')
    .description("revoke the TPP's transport certificate: CRL and OCSP, and the revoked JWKS unless --crl-only")
    .option('--crl-only', 'list it in the CRL / OCSP only, not in the revoked JWKS (exercises the CRL and OCSP checks)')
    .action(async (name: string, opts: { crlOnly?: boolean }) => {
      const dir = await openSandbox();
      const tpp = await dir.getTpp(name);
      if (!tpp) throw new Error(`unknown sandbox TPP "${name}"`);
      await dir.revokeTransportCertificate(name, { revokedJwks: opts.crlOnly !== true });
      print({ revoked: 'transport certificate', tpp: name, serial: tpp.transportSerial, crl: dir.crlUrl, ocsp: dir.ocspUrl, revoked_jwks: opts.crlOnly !== true });
      expectOutcome(opts.crlOnly ? "revoked by its CA's CRL / OCSP" : 'revoked in the directory', name);
    });

  sandbox
    .command('outage <state>')
    .description('on: the sandbox directory answers 503 to everything (registrations then retry and end failed, replayable); off: back to normal')
    .action(async (state: string) => {
      const on = ['on', 'true', '1'].includes(state.toLowerCase());
      if (!on && !['off', 'false', '0'].includes(state.toLowerCase())) throw new Error(`outage takes on or off, got '${state}'`);
      const dir = await openSandbox();
      await dir.setOutage(on);
      print({ outage: on });
      process.stderr.write(
        on
          ? 'next: npx dcr register --tpp NAME --async  (expect status failed after the retries; replay it once the outage is off)\n'
          : 'the sandbox directory answers again; replay failed registrations or submit again\n',
      );
    });
}
