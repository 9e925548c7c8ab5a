import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../platform/config/schema.js';
import type { Trust } from '../../platform/runtime/trust.js';
import { trustFromConfig } from '../../platform/runtime/trust.js';
import { SandboxDirectory, type SandboxDirectoryOptions } from './directory.js';
import { ecosystemOfProfile } from './ssa.js';

const SERVER_CERT = 'intake-server.crt.pem';
const SERVER_KEY = 'intake-server.key.pem';

/**
 * How every process (the pipeline, the CLI) opens the sandbox directory for this configuration: it
 * plays the profile's directory (CDR Register, Open Finance Brasil directory, OB Directory) and signs
 * SSAs as the first trusted issuer.
 */
export function sandboxDirectoryOptions(config: Pick<Config, 'dataDir' | 'sandboxUrl' | 'ssaIssuers' | 'profile'>): SandboxDirectoryOptions {
  return { dataDir: config.dataDir, baseUrl: config.sandboxUrl, ssaIssuer: config.ssaIssuers[0] ?? 'OpenBanking Ltd', ecosystem: ecosystemOfProfile(config.profile) };
}

/**
 * Trust for `DCR_SANDBOX=1`: the sandbox CA accepts client certificates and signs the directory's
 * own HTTPS certificate, the sandbox directory's JWKS verifies SSAs, its host is allow-listed, and
 * the intake gets a server certificate from the same CA (issued once, kept in the data dir).
 * Anything configured explicitly still wins.
 */
export async function sandboxTrust(config: Config): Promise<{ trust: Trust; directory: SandboxDirectory }> {
  const directory = await SandboxDirectory.open(sandboxDirectoryOptions(config));
  const configured = trustFromConfig(config);
  const sandboxHost = new URL(config.sandboxUrl).host;
  let server = configured.server;
  if (!server) {
    const certFile = join(directory.sandboxDir, SERVER_CERT);
    const keyFile = join(directory.sandboxDir, SERVER_KEY);
    if (existsSync(certFile) && existsSync(keyFile)) {
      server = { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
    } else {
      const hostnames = [...new Set(['localhost', '127.0.0.1', 'intake', new URL(config.publicUrl).hostname])];
      server = await directory.issueServerCertificate(hostnames);
      await writeFile(certFile, server.certPem);
      await writeFile(keyFile, server.keyPem, { mode: 0o600 });
    }
  }
  const trust: Trust = {
    clientCaPems: [...configured.clientCaPems, directory.caCertPem],
    outboundCaPems: [...configured.outboundCaPems, directory.caCertPem],
    directoryJwksUrl: config.directoryJwksUrl ?? directory.directoryJwksUrl,
    allowedFetchHosts: [...new Set([...configured.allowedFetchHosts, sandboxHost])],
    server,
  };
  return { trust, directory };
}
