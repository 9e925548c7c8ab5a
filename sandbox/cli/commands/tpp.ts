import type { Command } from 'commander';
import type { Config } from '../../../platform/config/schema.js';
import { httpsRequest, type HttpResponse, type MtlsIdentity } from '../../tpp-client/https-client.js';
import { registrationClaimsFor, registrationRequestFor } from '../../tpp-client/registration-request.js';
import { rememberClient, rememberRequest, requestOwner } from '../client-store.js';
import { cliConfig } from '../context.js';
import { CliError, exitForStatus, reach, setExit } from '../exit.js';
import { parseMilliseconds, tppOptions } from '../options.js';
import { print } from '../output.js';
import { loadIdentity, loadTpp, type TppSelection } from '../tpp-source.js';
import { progress } from '../ui.js';

/** The statuses a poll stops at: `failed` too (the pipeline gave up; an operator may replay it). */
const FINAL = new Set(['registered', 'rejected', 'failed']);

/** The intake's header naming the registration request behind a POST /register answer. */
const REQUEST_ID_HEADER = 'dcr-request-id';

function body(res: HttpResponse): unknown {
  if (!res.text.startsWith('{')) return res.text;
  try {
    return res.json();
  } catch {
    return res.text;
  }
}

function statusUrl(url: string, requestId: string): string {
  return `${url}/register/requests/${encodeURIComponent(requestId)}`;
}

async function pollUntilFinal(url: string, identity: MtlsIdentity, tpp: string | undefined, requestId: string, timeoutMs: number): Promise<{ body: Record<string, unknown>; final: boolean }> {
  const shown = progress(`request ${requestId}: received`);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const res = await reach('the DCR endpoint', () => httpsRequest(statusUrl(url, requestId), { identity }));
      if (res.status !== 200) throw new CliError(exitForStatus(res.status) === 'ok' ? 'error' : exitForStatus(res.status), `status poll answered HTTP ${res.status}: ${res.text.slice(0, 300)}`);
      const answer = res.json();
      const status = String(answer.status);
      shown.update(`request ${requestId}: ${status}`);
      if (FINAL.has(status)) {
        if (status === 'registered') shown.succeed(`request ${requestId}: registered as ${String(answer.client_id)}`);
        else if (status === 'rejected') shown.fail(`request ${requestId}: rejected: ${String(answer.error)}: ${String(answer.error_description)}`);
        else shown.fail(`request ${requestId}: failed on the pipeline's side (${String(answer.error_description)}); an operator can replay it: dcr-pipeline ops show ${requestId}`);
        return { body: answer, final: true };
      }
      if (Date.now() > deadline) {
        shown.warn(`request ${requestId}: still ${status} after ${timeoutMs} ms; poll later with: dcr-pipeline status ${requestId}${tpp ? ` --tpp ${tpp}` : ''}`);
        return { body: answer, final: false };
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    shown.stop();
  }
}

/** What a final (or timed-out) request status means for the exit code. */
function exitForRequest(status: string, final: boolean): 'ok' | 'rejected' | 'failed' | 'timeout' {
  if (!final) return 'timeout';
  return status === 'registered' ? 'ok' : status === 'rejected' ? 'rejected' : 'failed';
}

async function register(config: Config, opts: TppSelection & { url?: string; async?: boolean; timeout: number }): Promise<void> {
  const url = opts.url ?? config.publicUrl;
  const { credentials, identity } = await loadTpp(config, opts);
  // The profile's request shape: a signed JWT, or JSON in openfinance-br.
  const request = await registrationRequestFor(config.profile, credentials, registrationClaimsFor(config.profile, credentials, config.audiences[0] ?? url));
  const res: HttpResponse = await reach(`the DCR endpoint ${url}`, () =>
    httpsRequest(`${url}/register`, {
      method: 'POST',
      headers: { 'content-type': request.contentType, accept: 'application/json', ...(opts.async ? { prefer: 'respond-async' } : {}) },
      body: request.body,
      identity,
    }),
  );
  const header = res.headers[REQUEST_ID_HEADER];
  const requestId = typeof header === 'string' ? header : res.status === 202 ? res.json<{ request_id?: string }>().request_id : undefined;
  if (requestId) {
    process.stderr.write(`request ${requestId}: ${res.status === 201 ? 'registered' : res.status === 202 ? 'accepted' : `answered HTTP ${res.status}`}\n`);
    await rememberRequest(config, opts.tpp, requestId, res.status === 201 ? 'registered' : res.status === 400 ? 'rejected' : 'received');
  }
  if (res.status === 201) {
    print(res.json());
    await rememberClient(config, opts.tpp, res.json(), requestId);
    return;
  }
  if (res.status === 202 && requestId) {
    const { body: final, final: settled } = await pollUntilFinal(url, identity, opts.tpp, requestId, opts.timeout);
    const status = String(final.status);
    print(final.registration ?? final);
    await rememberRequest(config, opts.tpp, requestId, status);
    if (status === 'registered') await rememberClient(config, opts.tpp, final.registration, requestId);
    setExit(exitForRequest(status, settled));
    return;
  }
  process.stderr.write(`registration answered HTTP ${res.status}\n`);
  print(body(res));
  setExit(exitForStatus(res.status) === 'ok' ? 'error' : exitForStatus(res.status));
}

/** `register`, `status`: what a TPP does. */
export function registerTppCommands(program: Command): void {
  tppOptions(program.command('register'))
    .description('build and sign a registration request, submit it over mutual TLS, poll until final, print the client')
    .option('--async', 'ask for 202 (Prefer: respond-async) and poll')
    .option('--timeout <ms>', 'how long to poll (milliseconds)', parseMilliseconds, 30_000)
    .action(async (opts: TppSelection & { url?: string; async?: boolean; timeout: number }) => register(cliConfig(), opts));

  tppOptions(program.command('status <requestId>'), 'transport')
    .description('show a registration request over mutual TLS (only the submitting TPP may; no signing key is needed)')
    .action(async (requestId: string, opts: Pick<TppSelection, 'tpp' | 'cert' | 'key' | 'ca'> & { url?: string }) => {
      const config = cliConfig();
      let sel = opts;
      if (!sel.tpp && !sel.cert) {
        // The sandbox TPP that submitted it through this CLI.
        const owner = await requestOwner(config, requestId);
        if (!owner) throw new CliError('usage', `request ${requestId} was not submitted by a sandbox TPP through this CLI: pass --tpp NAME, or --cert and --key`);
        sel = { ...sel, tpp: owner };
      }
      const identity = await loadIdentity(config, sel);
      const url = opts.url ?? config.publicUrl;
      const res = await reach(`the DCR endpoint ${url}`, () => httpsRequest(statusUrl(url, requestId), { identity }));
      const answer = body(res);
      print(answer);
      if (res.status !== 200) return setExit(exitForStatus(res.status) === 'ok' ? 'error' : exitForStatus(res.status));
      const status = String((answer as Record<string, unknown>).status);
      await rememberRequest(config, sel.tpp, requestId, status);
      if (status === 'registered') await rememberClient(config, sel.tpp, (answer as Record<string, unknown>).registration, requestId);
      // Pending is not an error for `status`; rejected and failed are.
      if (status === 'rejected') setExit('rejected');
      if (status === 'failed') setExit('failed');
    });
}
