import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { Config } from '../../platform/config/schema.js';
import type { MtlsIdentity } from '../tpp-client/https-client.js';
import type { TppCredentials } from '../tpp-client/registration-request.js';
import { sandboxCredentials } from '../directory-sandbox/index.js';
import { openSandbox } from './context.js';
import { CliError } from './exit.js';

export interface TppSelection {
  tpp?: string;
  ssa?: string;
  cert?: string;
  key?: string;
  signingKey?: string;
  kid?: string;
  alg?: string;
  ca?: string;
}

/** A TPP's credentials and mTLS identity: a sandbox TPP by name, or explicit files. */
export async function loadTpp(config: Config, sel: TppSelection): Promise<{ credentials: TppCredentials; identity: MtlsIdentity }> {
  if (sel.tpp) {
    const dir = await openSandbox(config);
    const tpp = await dir.getTpp(sel.tpp);
    if (!tpp) throw new CliError('usage', `no sandbox TPP named '${sel.tpp}' in ${config.dataDir} (list them: dcr-pipeline sandbox tpp list; create it: dcr-pipeline sandbox tpp create ${sel.tpp})`);
    const ca = sel.ca ? await readInput(sel.ca, '--ca') : dir.caCertPem;
    return {
      credentials: sandboxCredentials(tpp),
      identity: { certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: ca },
    };
  }
  const missing = (['ssa', 'cert', 'key', 'signingKey', 'kid'] as const).filter((k) => !sel[k]);
  if (missing.length) throw new CliError('usage', `either --tpp NAME or all of --ssa --cert --key --signing-key --kid are needed (missing: ${missing.join(', ')})`);
  const ssa = (await readInput(sel.ssa as string, '--ssa')).trim();
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readInput(sel.signingKey as string, '--signing-key')) as JWK;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('usage', `--signing-key: ${sel.signingKey as string} is not a JWK (JSON)`);
  }
  const payload = JSON.parse(Buffer.from(ssa.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const alg = (sel.alg ?? jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'PS256')) as TppCredentials['alg'];
  return {
    credentials: {
      softwareId: String(payload.software_id ?? ''),
      ssa,
      signingJwk: jwk,
      kid: sel.kid as string,
      alg,
      redirectUris: Array.isArray(payload.software_redirect_uris) ? (payload.software_redirect_uris as string[]) : [],
      roles: Array.isArray(payload.software_roles) ? (payload.software_roles as string[]) : [],
    },
    identity: await loadIdentity(config, sel),
  };
}

async function readInput(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError('usage', `${option}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/**
 * Only the mTLS identity (for GETs, which sign nothing): a sandbox TPP's transport certificate, or
 * --cert and --key. No software statement or signing key is needed.
 */
export async function loadIdentity(config: Config, sel: Pick<TppSelection, 'tpp' | 'cert' | 'key' | 'ca'>): Promise<MtlsIdentity> {
  if (sel.tpp) return (await loadTpp(config, { ...sel, tpp: sel.tpp })).identity;
  if (!sel.cert || !sel.key) throw new CliError('usage', 'either --tpp NAME or both --cert and --key (the transport certificate the request was submitted with) are needed');
  return {
    certPem: await readInput(sel.cert, '--cert'),
    keyPem: await readInput(sel.key, '--key'),
    caPem: sel.ca ? await readInput(sel.ca, '--ca') : [],
  };
}
