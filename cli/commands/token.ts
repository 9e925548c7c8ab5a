import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { getProfile } from '../../shared/profiles/index.js';
import { loadConfig } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { httpsRequest, type HttpResponse, type MtlsIdentity } from '../../shared/tpp-client/https-client.js';
import { registrationClaimsFor, registrationRequestFor, type TppCredentials } from '../../shared/tpp-client/registration-request.js';
import { requestClientCredentials, type TokenAuthMethod } from '../../services/sandbox-as/client-credentials.js';
import { print } from '../output.js';
import { loadTpp, type TppSelection } from '../tpp-source.js';
import { tppOptions } from './tpp.js';

/** What `dcr register` keeps of a sandbox TPP's client (the file is 0600, under the TPP's sandbox dir). */
export interface RememberedClient {
  client_id: string;
  registration_access_token?: string;
  token_endpoint_auth_method?: string;
  registered_at: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function clientsDir(config: Config, tpp: string): string {
  if (!NAME.test(tpp)) throw new Error(`not a TPP name: '${tpp}'`);
  return join(config.dataDir, 'sandbox', 'tpps', tpp, 'clients');
}

/** Keeps a sandbox TPP's registration (client id, registration access token) for `dcr token` / `dcr client`. */
export async function rememberClient(config: Config, tpp: string | undefined, registration: unknown): Promise<void> {
  if (!tpp || typeof registration !== 'object' || registration === null) return;
  const r = registration as Record<string, unknown>;
  if (typeof r.client_id !== 'string' || !NAME.test(r.client_id)) return;
  const dir = clientsDir(config, tpp);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const record: RememberedClient = {
    client_id: r.client_id,
    ...(typeof r.registration_access_token === 'string' ? { registration_access_token: r.registration_access_token } : {}),
    ...(typeof r.token_endpoint_auth_method === 'string' ? { token_endpoint_auth_method: r.token_endpoint_auth_method } : {}),
    registered_at: new Date().toISOString(),
  };
  await writeFile(join(dir, `${r.client_id}.json`), JSON.stringify(record, null, 2), { mode: 0o600 });
}

/** The remembered client `clientId`, or the TPP's most recent one. */
export async function rememberedClient(config: Config, tpp: string | undefined, clientId?: string): Promise<RememberedClient | null> {
  if (!tpp) return null;
  const dir = clientsDir(config, tpp);
  const read = async (file: string) => JSON.parse(await readFile(join(dir, file), 'utf8')) as RememberedClient;
  if (clientId) {
    if (!NAME.test(clientId)) throw new Error(`not a client id: '${clientId}'`);
    return read(`${clientId}.json`).catch(() => null);
  }
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  const all = await Promise.all(files.map(read));
  return all.sort((a, b) => b.registered_at.localeCompare(a.registered_at))[0] ?? null;
}

/** The AS token endpoint: the intake's discovery (mTLS alias first), else `DCR_AS_ISSUER/token` (sandbox: port DCR_AS_PORT). */
async function tokenEndpoint(config: Config, url: string, identity: MtlsIdentity): Promise<string> {
  try {
    const res = await httpsRequest(`${url}/.well-known/openid-configuration`, { identity: { caPem: identity.caPem }, timeoutMs: 5000 });
    if (res.status === 200) {
      const d = res.json<{ token_endpoint?: unknown; mtls_endpoint_aliases?: { token_endpoint?: unknown } }>();
      const alias = d.mtls_endpoint_aliases?.token_endpoint ?? d.token_endpoint;
      if (typeof alias === 'string') return alias;
    }
  } catch {
    // fall back to the configuration
  }
  return `${config.as.issuer ?? `https://localhost:${config.as.port}`}/token`;
}

async function accessToken(
  config: Config,
  url: string,
  tpp: { credentials: TppCredentials; identity: MtlsIdentity },
  clientId: string,
  method: TokenAuthMethod,
): Promise<{ res: HttpResponse; token: string | null }> {
  const res = await requestClientCredentials({
    tokenEndpoint: await tokenEndpoint(config, url, tpp.identity),
    clientId,
    method,
    identity: tpp.identity,
    credentials: tpp.credentials,
    // The scope the profile's management endpoints require (CDR: cdr:registration).
    ...(getProfile(config.profile).management.requiredScope ? { scope: getProfile(config.profile).management.requiredScope as string } : {}),
  });
  const token = res.status === 200 ? res.json<{ access_token?: unknown }>().access_token : null;
  return { res, token: typeof token === 'string' ? token : null };
}

function authMethod(option: string | undefined, remembered: RememberedClient | null): TokenAuthMethod {
  const method = option ?? remembered?.token_endpoint_auth_method ?? 'private_key_jwt';
  if (method !== 'tls_client_auth' && method !== 'private_key_jwt') throw new Error(`--method must be tls_client_auth or private_key_jwt, got '${method}'`);
  return method;
}

function printAnswer(res: HttpResponse): void {
  if (res.text === '') process.stderr.write(`HTTP ${res.status}\n`);
  else print(res.text.startsWith('{') ? res.json() : res.text);
  if (res.status >= 300) process.exitCode = 1;
}

type ClientOpts = TppSelection & { url?: string; asToken?: boolean; token?: string; method?: string };

/** `dcr token`, `dcr client get|update|delete`: the AS client-credentials grant and RFC 7592 management. */
export function registerTokenCommands(program: Command): void {
  tppOptions(program.command('token'))
    .description("client-credentials grant at the bank's AS over mutual TLS (tls_client_auth or private_key_jwt), prints the token")
    .option('--client-id <id>', "the client (default: the TPP's most recent registration)")
    .option('--method <method>', 'tls_client_auth | private_key_jwt (default: as registered)')
    .action(async (opts: TppSelection & { url?: string; clientId?: string; method?: string }) => {
      const config = loadConfig();
      const remembered = await rememberedClient(config, opts.tpp, opts.clientId);
      const clientId = opts.clientId ?? remembered?.client_id;
      if (!clientId) throw new Error('no client: pass --client-id, or register one first with: npx dcr register --tpp NAME');
      const tpp = await loadTpp(config, opts);
      const { res } = await accessToken(config, opts.url ?? config.publicUrl, tpp, clientId, authMethod(opts.method, remembered));
      printAnswer(res);
    });

  const client = program.command('client').description('RFC 7592 management of a registered client (registration access token or --as-token)');
  const manage = (name: string, description: string, method: 'GET' | 'PUT' | 'DELETE') =>
    tppOptions(client.command(`${name} <clientId>`))
      .description(description)
      .option('--as-token', "authenticate with a client-credentials token of the bank's AS instead of the registration access token")
      .option('--token <token>', 'the Bearer token to present')
      .option('--method <method>', 'token endpoint auth method for --as-token')
      .action(async (clientId: string, opts: ClientOpts) => {
        const config = loadConfig();
        const url = opts.url ?? config.publicUrl;
        const tpp = await loadTpp(config, opts);
        const remembered = await rememberedClient(config, opts.tpp, clientId);
        let bearer = opts.token ?? null;
        if (!bearer && opts.asToken) {
          const { res, token } = await accessToken(config, url, tpp, clientId, authMethod(opts.method, remembered));
          if (!token) {
            process.stderr.write(`the AS answered HTTP ${res.status}: ${res.text.slice(0, 300)}\n`);
            process.exitCode = 1;
            return;
          }
          bearer = token;
        }
        bearer ??= remembered?.registration_access_token ?? null;
        if (!bearer) throw new Error(`no token for ${clientId}: pass --token or --as-token (registration access tokens are kept only for clients registered with dcr register --tpp)`);
        const update =
          method === 'PUT'
            ? await registrationRequestFor(config.profile, tpp.credentials, {
                ...registrationClaimsFor(config.profile, tpp.credentials, config.audiences[0] ?? url),
                ...(config.profile === 'openfinance-br' ? { client_id: clientId } : {}), // RFC 7592 §2.2 (required in that profile)
              })
            : undefined;
        const res = await httpsRequest(`${url}/register/${encodeURIComponent(clientId)}`, {
          method,
          identity: tpp.identity,
          headers: { accept: 'application/json', authorization: `Bearer ${bearer}`, ...(update ? { 'content-type': update.contentType } : {}) },
          ...(update ? { body: update.body } : {}),
        });
        if (method === 'DELETE' && res.status === 204 && opts.tpp) await rm(join(clientsDir(config, opts.tpp), `${clientId}.json`), { force: true });
        printAnswer(res);
      });
  manage('get', 'read the registration (GET /register/{client_id})', 'GET');
  manage('update', 'send a freshly signed request (new jti) for the client (PUT /register/{client_id})', 'PUT');
  manage('delete', 'delete the client (DELETE /register/{client_id}); its tokens die with it', 'DELETE');
}
