import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../platform/config/schema.js';
import { httpsRequest, type MtlsIdentity } from '../tpp-client/https-client.js';
import { CliError } from './exit.js';

/**
 * What the CLI keeps per sandbox TPP, under DATA_DIR/sandbox/tpps/NAME/ (directories 0700, files
 * 0600): `clients/CLIENT_ID.json` for each client it registered (with the registration access
 * token when the pipeline handed one out) and `requests/REQUEST_ID.json` for each request it
 * submitted, so that a request that settles later (a replay by an operator) still yields the
 * TPP's client, and `status ID` knows which TPP to ask as.
 */
export interface RememberedClient {
  client_id: string;
  registration_access_token?: string;
  token_endpoint_auth_method?: string;
  request_id?: string;
  registered_at: string;
}

export interface RememberedRequest {
  request_id: string;
  submitted_at: string;
  /** The last status seen; `registered`, `rejected` and `gone` (404) are settled, anything else is looked up again. */
  status: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SETTLED = new Set(['registered', 'rejected', 'gone']);
/** How many unsettled requests a refresh looks up (the most recent first). */
const REFRESH_LIMIT = 20;

function tppDir(config: Config, tpp: string): string {
  if (!NAME.test(tpp)) throw new CliError('usage', `not a TPP name: '${tpp}'`);
  return join(config.dataDir, 'sandbox', 'tpps', tpp);
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function readAll<T>(dir: string): Promise<T[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  return (await Promise.all(files.map((f) => readJson<T>(join(dir, f))))).filter((x): x is Awaited<T> & T => x !== null);
}

async function writePrivate(dir: string, file: string, value: unknown): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, file), JSON.stringify(value, null, 2), { mode: 0o600 });
}

/** Keeps a sandbox TPP's registration (client id, registration access token) for `token` / `client`. */
export async function rememberClient(config: Config, tpp: string | undefined, registration: unknown, requestId?: string): Promise<void> {
  if (!tpp || typeof registration !== 'object' || registration === null) return;
  const r = registration as Record<string, unknown>;
  if (typeof r.client_id !== 'string' || !NAME.test(r.client_id)) return;
  const dir = join(tppDir(config, tpp), 'clients');
  const existing = await readJson<RememberedClient>(join(dir, `${r.client_id}.json`));
  const record: RememberedClient = {
    client_id: r.client_id,
    ...(typeof r.registration_access_token === 'string'
      ? { registration_access_token: r.registration_access_token }
      : existing?.registration_access_token
        ? { registration_access_token: existing.registration_access_token }
        : {}),
    ...(typeof r.token_endpoint_auth_method === 'string' ? { token_endpoint_auth_method: r.token_endpoint_auth_method } : {}),
    ...((requestId ?? existing?.request_id) ? { request_id: requestId ?? existing?.request_id } : {}),
    registered_at: existing?.registered_at ?? new Date().toISOString(),
  };
  await writePrivate(dir, `${r.client_id}.json`, record);
}

export async function forgetClient(config: Config, tpp: string, clientId: string): Promise<void> {
  if (!NAME.test(clientId)) return;
  await rm(join(tppDir(config, tpp), 'clients', `${clientId}.json`), { force: true });
}

/** The remembered client `clientId`, or the TPP's most recent one. */
export async function rememberedClient(config: Config, tpp: string | undefined, clientId?: string): Promise<RememberedClient | null> {
  if (!tpp) return null;
  const dir = join(tppDir(config, tpp), 'clients');
  if (clientId) return NAME.test(clientId) ? readJson<RememberedClient>(join(dir, `${clientId}.json`)) : null;
  return (await rememberedClients(config, tpp))[0] ?? null;
}

/** The TPP's remembered clients, most recent first. */
export async function rememberedClients(config: Config, tpp: string): Promise<RememberedClient[]> {
  const all = await readAll<RememberedClient>(join(tppDir(config, tpp), 'clients'));
  return all.sort((a, b) => b.registered_at.localeCompare(a.registered_at));
}

/** Records a request the TPP submitted (and the status it was last seen in). */
export async function rememberRequest(config: Config, tpp: string | undefined, requestId: string, status: string): Promise<void> {
  if (!tpp || !NAME.test(requestId)) return;
  const dir = join(tppDir(config, tpp), 'requests');
  const existing = await readJson<RememberedRequest>(join(dir, `${requestId}.json`));
  await writePrivate(dir, `${requestId}.json`, { request_id: requestId, submitted_at: existing?.submitted_at ?? new Date().toISOString(), status } satisfies RememberedRequest);
}

/** The sandbox TPP that submitted `requestId` through this CLI, if any. */
export async function requestOwner(config: Config, requestId: string): Promise<string | null> {
  if (!NAME.test(requestId)) return null;
  const root = join(config.dataDir, 'sandbox', 'tpps');
  for (const tpp of await readdir(root).catch(() => [] as string[])) {
    if (!NAME.test(tpp)) continue;
    if (await readJson<RememberedRequest>(join(root, tpp, 'requests', `${requestId}.json`))) return tpp;
  }
  return null;
}

/**
 * Looks up the TPP's unsettled requests (GET /register/requests/{id}, over its own mTLS identity)
 * and remembers the client of each one that is now registered: after an operator replays a failed
 * registration, `token --tpp` and `client get --tpp` find its client. Best effort: when the
 * pipeline does not answer, what is remembered stays as it is.
 */
export async function refreshClients(config: Config, tpp: string, url: string, identity: MtlsIdentity): Promise<void> {
  const dir = join(tppDir(config, tpp), 'requests');
  const open = (await readAll<RememberedRequest>(dir))
    .filter((r) => !SETTLED.has(r.status))
    .sort((a, b) => b.submitted_at.localeCompare(a.submitted_at))
    .slice(0, REFRESH_LIMIT);
  for (const req of open) {
    let body: Record<string, unknown>;
    try {
      const res = await httpsRequest(`${url}/register/requests/${encodeURIComponent(req.request_id)}`, { identity, timeoutMs: 5000 });
      if (res.status === 404) {
        // Gone (expired from the store, or not this TPP's): nothing to look up again.
        await rememberRequest(config, tpp, req.request_id, 'gone');
        continue;
      }
      if (res.status !== 200) continue;
      body = res.json();
    } catch {
      return;
    }
    const status = String(body.status);
    if (status === 'registered') await rememberClient(config, tpp, body.registration ?? { client_id: body.client_id }, req.request_id);
    if (status !== req.status) await rememberRequest(config, tpp, req.request_id, status);
  }
}
