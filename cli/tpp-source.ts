import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { Config } from '../shared/config/schema.js';
import type { MtlsIdentity } from '../shared/tpp-client/https-client.js';
import type { TppCredentials } from '../shared/tpp-client/registration-request.js';
import { SandboxDirectory, sandboxCredentials, sandboxDirectoryOptions } from '../services/directory-sandbox/index.js';

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
    const dir = await SandboxDirectory.open(sandboxDirectoryOptions(config));
    const tpp = await dir.getTpp(sel.tpp);
    if (!tpp) throw new Error(`no sandbox TPP named '${sel.tpp}' (create it with: npx dcr sandbox tpp create ${sel.tpp})`);
    const ca = sel.ca ? await readFile(sel.ca, 'utf8') : dir.caCertPem;
    return {
      credentials: sandboxCredentials(tpp),
      identity: { certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: ca },
    };
  }
  const missing = (['ssa', 'cert', 'key', 'signingKey', 'kid'] as const).filter((k) => !sel[k]);
  if (missing.length) throw new Error(`either --tpp NAME or all of --ssa --cert --key --signing-key --kid are needed (missing: ${missing.join(', ')})`);
  const ssa = (await readFile(sel.ssa as string, 'utf8')).trim();
  const jwk = JSON.parse(await readFile(sel.signingKey as string, 'utf8')) as JWK;
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
    identity: {
      certPem: await readFile(sel.cert as string, 'utf8'),
      keyPem: await readFile(sel.key as string, 'utf8'),
      caPem: sel.ca ? await readFile(sel.ca, 'utf8') : [],
    },
  };
}
