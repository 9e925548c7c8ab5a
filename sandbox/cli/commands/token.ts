import type { Command } from 'commander';
import type { Config } from '../../../platform/config/schema.js';
import { httpsRequest, type HttpResponse, type MtlsIdentity } from '../../tpp-client/https-client.js';
import { getProfile } from '../../../core/profiles/index.js';
import { registrationClaimsFor, registrationRequestFor, type TppCredentials } from '../../tpp-client/registration-request.js';
import { requestClientCredentials, type TokenAuthMethod } from '../../sandbox-as/client-credentials.js';
import { forgetClient, refreshClients, rememberedClient, rememberedClients, type RememberedClient } from '../client-store.js';
import { cliConfig, openSandbox } from '../context.js';
import { CliError, exitForStatus, reach, setExit } from '../exit.js';
import { tppOptions } from '../options.js';
import { print } from '../output.js';
import { loadIdentity, loadTpp, type TppSelection } from '../tpp-source.js';

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

function isInvalidClient(res: HttpResponse): boolean {
  if (res.status !== 400 && res.status !== 401) return false;
  try {
    return res.json<{ error?: unknown }>().error === 'invalid_client';
  } catch {
    return false;
  }
}

async function accessToken(
  config: Config,
  url: string,
  tpp: { credentials: TppCredentials; identity: MtlsIdentity; name?: string },
  clientId: string,
  method: TokenAuthMethod,
): Promise<{ res: HttpResponse; token: string | null }> {
  const endpoint = await tokenEndpoint(config, url, tpp.identity);
  const requiredScope = getProfile(config.profile).management.requiredScope;
  const res = await reach(`the AS token endpoint ${endpoint}`, () =>
    requestClientCredentials({
      tokenEndpoint: endpoint,
      clientId,
      method,
      identity: tpp.identity,
      credentials: tpp.credentials,
      // The scope the profile's management endpoints require (CDR: cdr:registration).
      ...(requiredScope ? { scope: requiredScope } : {}),
    }),
  );
  // invalid_client covers both "no such client" and "its authentication failed"; when the TPP never
  // registered this client id either, it is almost certainly a typo: say so.
  if (isInvalidClient(res) && tpp.name && !(await rememberedClient(config, tpp.name, clientId))) {
    const known = (await rememberedClients(config, tpp.name)).map((c) => c.client_id);
    throw new CliError(
      'rejected',
      `unknown client '${clientId}': the AS does not accept it (invalid_client) and TPP ${tpp.name} has not registered it` +
        (known.length ? `; its clients: ${known.join(', ')}` : '; it has no clients yet (dcr-pipeline register --tpp ' + tpp.name + ')'),
    );
  }
  const token = res.status === 200 ? res.json<{ access_token?: unknown }>().access_token : null;
  return { res, token: typeof token === 'string' ? token : null };
}

function authMethod(option: string | undefined, remembered: RememberedClient | null): TokenAuthMethod {
  const method = option ?? remembered?.token_endpoint_auth_method ?? 'private_key_jwt';
  if (method !== 'tls_client_auth' && method !== 'private_key_jwt') throw new CliError('usage', `--method must be tls_client_auth or private_key_jwt, got '${method}'`);
  return method;
}

function printAnswer(res: HttpResponse): void {
  if (res.text === '') process.stderr.write(`HTTP ${res.status}\n`);
  else {
    let value: unknown = res.text;
    if (res.text.startsWith('{')) {
      try {
        value = res.json();
      } catch {
        // not JSON after all: print it as it came
      }
    }
    print(value);
  }
  if (res.status >= 300) setExit(exitForStatus(res.status) === 'ok' ? 'error' : exitForStatus(res.status));
}

/** The remembered client, after looking up the TPP's unsettled requests when it is not known yet (a replay may have registered it). */
async function findClient(config: Config, url: string, tpp: string | undefined, identity: MtlsIdentity, clientId?: string): Promise<RememberedClient | null> {
  if (!tpp) return null;
  const known = await rememberedClient(config, tpp, clientId);
  if (known) return known;
  await refreshClients(config, tpp, url, identity);
  return rememberedClient(config, tpp, clientId);
}

type ClientOpts = TppSelection & { url?: string; asToken?: boolean; token?: string; method?: string };

/** `token`, `client list|get|update|delete`: the AS client-credentials grant and RFC 7592 management. */
export function registerTokenCommands(program: Command): void {
  tppOptions(program.command('token'))
    .description("client-credentials grant at the bank's AS over mutual TLS (tls_client_auth or private_key_jwt), prints the token")
    .option('--client-id <id>', "the client (default: the TPP's most recent registration)")
    .option('--method <method>', 'tls_client_auth | private_key_jwt (default: as registered)')
    .action(async (opts: TppSelection & { url?: string; clientId?: string; method?: string }) => {
      const config = cliConfig();
      const url = opts.url ?? config.publicUrl;
      const tpp = await loadTpp(config, opts);
      const remembered = await findClient(config, url, opts.tpp, tpp.identity, opts.clientId);
      const clientId = opts.clientId ?? remembered?.client_id;
      if (!clientId) throw new CliError('usage', `no client: pass --client-id, or register one first with: dcr-pipeline register --tpp ${opts.tpp ?? 'NAME'}`);
      const { res } = await accessToken(config, url, { ...tpp, ...(opts.tpp ? { name: opts.tpp } : {}) }, clientId, authMethod(opts.method, remembered));
      printAnswer(res);
    });

  const client = program.command('client').description('the clients a sandbox TPP registered, and RFC 7592 management (registration access token or --as-token)');
  client
    .command('list')
    .description('the clients registered through this CLI, per sandbox TPP (after looking up requests that settled since, e.g. by a replay)')
    .option('--tpp <name>', 'only this sandbox TPP')
    .option('--url <url>', 'base URL of the DCR endpoint (default DCR_PUBLIC_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { tpp?: string; url?: string; json?: boolean }) => {
      const config = cliConfig();
      const url = opts.url ?? config.publicUrl;
      const dir = await openSandbox(config);
      const tpps = opts.tpp ? [opts.tpp] : (await dir.listTpps()).map((t) => t.name);
      const rows: Array<RememberedClient & { tpp: string }> = [];
      for (const name of tpps) {
        await refreshClients(config, name, url, await loadIdentity(config, { tpp: name }));
        for (const c of await rememberedClients(config, name)) rows.push({ ...c, tpp: name });
      }
      if (opts.json) {
        print(rows.map(({ registration_access_token, ...c }) => ({ ...c, registration_access_token: registration_access_token !== undefined })));
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`no clients${opts.tpp ? ` for ${opts.tpp}` : ''} yet (dcr-pipeline register --tpp ${opts.tpp ?? 'NAME'})\n`);
        return;
      }
      for (const c of rows) {
        process.stdout.write(`${c.client_id}  ${c.tpp.padEnd(12)}  ${(c.token_endpoint_auth_method ?? '?').padEnd(15)}  ${c.registered_at}  ${c.registration_access_token ? 'access token kept' : 'no access token'}\n`);
      }
    });

  const manage = (name: string, description: string, method: 'GET' | 'PUT' | 'DELETE') =>
    tppOptions(client.command(`${name} <clientId>`))
      .description(description)
      .option('--as-token', "authenticate with a client-credentials token of the bank's AS instead of the registration access token")
      .option('--token <token>', 'the Bearer token to present')
      .option('--method <method>', 'token endpoint auth method for --as-token')
      .action(async (clientId: string, opts: ClientOpts) => {
        const config = cliConfig();
        const url = opts.url ?? config.publicUrl;
        const tpp = await loadTpp(config, opts);
        const remembered = await findClient(config, url, opts.tpp, tpp.identity, clientId);
        let bearer = opts.token ?? null;
        if (!bearer && opts.asToken) {
          const { res, token } = await accessToken(config, url, { ...tpp, ...(opts.tpp ? { name: opts.tpp } : {}) }, clientId, authMethod(opts.method, remembered));
          if (!token) throw new CliError(exitForStatus(res.status) === 'ok' ? 'error' : exitForStatus(res.status), `the AS answered HTTP ${res.status}: ${res.text.slice(0, 300)}`);
          bearer = token;
        }
        bearer ??= remembered?.registration_access_token ?? null;
        if (!bearer) {
          const why = opts.tpp && !remembered ? `TPP ${opts.tpp} has not registered ${clientId} through this CLI` : 'no registration access token is kept for it';
          throw new CliError('usage', `no token for ${clientId} (${why}): pass --token or --as-token`);
        }
        const update =
          method === 'PUT'
            ? await registrationRequestFor(config.profile, tpp.credentials, {
                ...registrationClaimsFor(config.profile, tpp.credentials, config.audiences[0] ?? url),
                ...(config.profile === 'openfinance-br' ? { client_id: clientId } : {}), // RFC 7592 §2.2 (required in that profile)
              })
            : undefined;
        const res = await reach(`the DCR endpoint ${url}`, () =>
          httpsRequest(`${url}/register/${encodeURIComponent(clientId)}`, {
            method,
            identity: tpp.identity,
            headers: { accept: 'application/json', authorization: `Bearer ${bearer}`, ...(update ? { 'content-type': update.contentType } : {}) },
            ...(update ? { body: update.body } : {}),
          }),
        );
        if (method === 'DELETE' && res.status === 204 && opts.tpp) await forgetClient(config, opts.tpp, clientId);
        printAnswer(res);
      });
  manage('get', 'read the registration (GET /register/{client_id})', 'GET');
  manage('update', 'send a freshly signed request (new jti) for the client (PUT /register/{client_id})', 'PUT');
  manage('delete', 'delete the client (DELETE /register/{client_id}); its tokens die with it', 'DELETE');
}
