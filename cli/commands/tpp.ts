import type { Command } from 'commander';
import ora from 'ora';
import { loadConfig } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { httpsRequest, type HttpResponse } from '../../shared/tpp-client/https-client.js';
import { registrationClaimsFor, registrationRequestFor } from '../../shared/tpp-client/registration-request.js';
import { print } from '../output.js';
import { loadTpp, type TppSelection } from '../tpp-source.js';
import { rememberClient } from './token.js';

const FINAL = new Set(['registered', 'rejected']);

async function pollUntilFinal(config: Config, url: string, sel: TppSelection, requestId: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const { identity } = await loadTpp(config, sel);
  const spinner = ora({ text: `request ${requestId}: received`, stream: process.stderr, isEnabled: process.stderr.isTTY }).start();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const res = await httpsRequest(`${url}/register/requests/${requestId}`, { identity });
      if (res.status !== 200) throw new Error(`status poll answered ${res.status}: ${res.text.slice(0, 300)}`);
      const body = res.json();
      spinner.text = `request ${requestId}: ${String(body.status)}`;
      if (FINAL.has(String(body.status))) {
        if (body.status === 'registered') spinner.succeed(`registered as ${String(body.client_id)}`);
        else spinner.fail(`rejected: ${String(body.error)}: ${String(body.error_description)}`);
        return body;
      }
      if (Date.now() > deadline) {
        spinner.warn(`still ${String(body.status)} after ${timeoutMs} ms; poll later with: npx dcr status ${requestId} --tpp ${sel.tpp ?? 'NAME'}`);
        return body;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    if (spinner.isSpinning) spinner.stop();
  }
}

export function tppOptions(cmd: Command): Command {
  return cmd
    .option('--tpp <name>', 'a sandbox TPP (npx dcr sandbox tpp create NAME)')
    .option('--ssa <file>', 'software statement (compact JWS)')
    .option('--cert <file>', 'transport certificate (PEM)')
    .option('--key <file>', 'transport private key (PEM)')
    .option('--signing-key <file>', 'signing private key (JWK JSON)')
    .option('--kid <kid>', 'kid of the signing key in the software JWKS')
    .option('--ca <file>', 'CA bundle trusted for the server certificate')
    .option('--url <url>', 'base URL of the DCR endpoint (default DCR_PUBLIC_URL)');
}

/** `dcr register`, `dcr status`: what a TPP does. */
export function registerTppCommands(program: Command): void {
  tppOptions(program.command('register'))
    .description('build and sign a registration request, submit it over mutual TLS, poll until final, print the client')
    .option('--async', 'ask for 202 (Prefer: respond-async) and poll')
    .option('--timeout <ms>', 'how long to poll', '30000')
    .action(async (opts: TppSelection & { url?: string; async?: boolean; timeout: string }) => {
      const config = loadConfig();
      const url = opts.url ?? config.publicUrl;
      const { credentials, identity } = await loadTpp(config, opts);
      // The profile's request shape: a signed JWT, or JSON in openfinance-br.
      const request = await registrationRequestFor(config.profile, credentials, registrationClaimsFor(config.profile, credentials, config.audiences[0] ?? url));
      const res: HttpResponse = await httpsRequest(`${url}/register`, {
        method: 'POST',
        headers: { 'content-type': request.contentType, accept: 'application/json', ...(opts.async ? { prefer: 'respond-async' } : {}) },
        body: request.body,
        identity,
      });
      if (res.status === 201) {
        print(res.json());
        await rememberClient(config, opts.tpp, res.json());
        return;
      }
      if (res.status === 202) {
        const { request_id: requestId } = res.json<{ request_id: string }>();
        process.stderr.write(`accepted: request ${requestId}\n`);
        const final = await pollUntilFinal(config, url, opts, requestId, Number(opts.timeout));
        print(final.registration ?? final);
        if (final.status === 'registered') await rememberClient(config, opts.tpp, final.registration);
        if (final.status !== 'registered') process.exitCode = 1;
        return;
      }
      process.stderr.write(`registration answered HTTP ${res.status}\n`);
      print(res.text.startsWith('{') ? res.json() : res.text);
      process.exitCode = 1;
    });

  tppOptions(program.command('status <requestId>'))
    .description('show a registration request (only the submitting TPP may)')
    .action(async (requestId: string, opts: TppSelection & { url?: string }) => {
      const config = loadConfig();
      const { identity } = await loadTpp(config, opts);
      const res = await httpsRequest(`${opts.url ?? config.publicUrl}/register/requests/${encodeURIComponent(requestId)}`, { identity });
      print(res.text.startsWith('{') ? res.json() : res.text);
      if (res.status !== 200) process.exitCode = 1;
    });

}
