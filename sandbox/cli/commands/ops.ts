import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cliConfig } from '../context.js';
import { CliError, exitForStatus, setExit } from '../exit.js';
import { parseCount, parseMilliseconds } from '../options.js';
import { print } from '../output.js';
import { progress } from '../ui.js';

interface AdminOptions {
  adminUrl?: string;
  json?: boolean;
}

interface AdminClient {
  url: string;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown, actor?: string): Promise<T>;
}

interface Summary {
  request_id: string;
  status: string;
  failed_stage: string | null;
  last_error: string | null;
  error: string | null;
  client_id: string | null;
  generation: number;
  submitted_at: string;
  updated_at: string;
}

interface Detail extends Summary {
  kind: string;
  software_id: string | null;
  org_id: string | null;
  tpp: string;
  attempts: Record<string, number>;
  error_description: string | null;
  history: Array<{ at: string; event: string; stage?: string; from?: string; to?: string; attempt?: number; error?: string; detail?: string; actor?: string }>;
}

interface BulkResult {
  matched: number;
  replayed: number;
  skipped: number;
  dryRun: boolean;
  requestIds: string[];
}

const SETTLED = new Set(['registered', 'rejected', 'failed']);

/** The admin API's URL and token: `--admin-url` or DCR_ADMIN_HOST:PORT; DCR_ADMIN_TOKEN or the sandbox token file. */
async function adminClient(opts: AdminOptions): Promise<AdminClient> {
  const config = cliConfig();
  const host = ['0.0.0.0', '::'].includes(config.admin.host) ? '127.0.0.1' : config.admin.host;
  const url = (opts.adminUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.admin.port}`).replace(/\/+$/, '');
  let token = config.admin.token;
  if (!token) {
    const file = join(config.dataDir, 'admin-token');
    token = await readFile(file, 'utf8').then(
      (t) => t.trim(),
      () => undefined,
    );
    if (!token) throw new CliError('config', `no admin token: set DCR_ADMIN_TOKEN (or, in the sandbox, start the pipeline so that ${file} exists)`);
  }
  const bearer = token;
  return {
    url,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, actor?: string): Promise<T> {
      const headers: Record<string, string> = { authorization: `Bearer ${bearer}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (actor) headers['x-actor'] = actor;
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      } catch (error) {
        throw new CliError('unreachable', `the admin API at ${url} is not reachable (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)})`);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError('error', `the admin API answered HTTP ${res.status} with a non-JSON body`);
      }
      if (!res.ok) {
        const e = parsed as { error?: string; error_description?: string };
        const exit = exitForStatus(res.status);
        throw new CliError(exit === 'ok' ? 'error' : exit, `the admin API answered HTTP ${res.status}: ${e.error ?? 'error'}: ${e.error_description ?? ''}`);
      }
      return parsed as T;
    },
  };
}

/** The audit trail's actor for this CLI user (only the characters the admin API accepts). */
function defaultActor(): string {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `cli:${name.replace(/[^A-Za-z0-9._@+-]/g, '_')}`.slice(0, 64);
}

function iso(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  // Relative: 30m, 2h, 1d ago.
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit).toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new CliError('usage', `${option}: expected an ISO timestamp or a duration like 30m, 2h, 1d`);
  return new Date(t).toISOString();
}

function table(rows: Summary[]): void {
  if (rows.length === 0) {
    process.stdout.write('no registrations match\n');
    return;
  }
  for (const r of rows) {
    const what = r.status === 'failed' ? `failed in ${r.failed_stage ?? '?'}` : r.status;
    process.stdout.write(`${r.request_id}  ${what.padEnd(20)}  ${r.updated_at}  ${r.last_error ?? r.error ?? ''}\n`);
  }
}

function timeline(d: Detail): void {
  const lines = [
    `request     ${d.request_id} (${d.kind}, generation ${d.generation})`,
    `status      ${d.status}${d.failed_stage ? ` in ${d.failed_stage}` : ''}`,
    ...(d.client_id ? [`client      ${d.client_id}`] : []),
    ...(d.software_id ? [`software    ${d.software_id} (org ${d.org_id ?? '?'})`] : []),
    `tpp         ${d.tpp}`,
    `submitted   ${d.submitted_at}   updated ${d.updated_at}`,
    ...(d.last_error ? [`last error  ${d.last_error}`] : []),
    ...(d.error ? [`rejected    ${d.error}: ${d.error_description ?? ''}`] : []),
    'history:',
    ...d.history.map((h) => {
      const parts = [h.at, h.event.padEnd(14)];
      if (h.stage) parts.push(`[${h.stage}]`);
      if (h.from || h.to) parts.push(`${h.from ?? '?'} -> ${h.to ?? '?'}`);
      if (h.attempt !== undefined) parts.push(`attempt ${h.attempt}`);
      if (h.actor) parts.push(`by ${h.actor}`);
      if (h.error) parts.push(`error: ${h.error}`);
      if (h.detail) parts.push(`(${h.detail})`);
      return `  ${parts.join(' ')}`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A replay watch's exit: failed if any ended failed, rejected if any was rejected, timeout if some never settled. */
function exitForTally(tally: Record<string, number>, total: number): 'ok' | 'failed' | 'rejected' | 'timeout' {
  if ((tally.failed ?? 0) > 0) return 'failed';
  if ((tally.rejected ?? 0) > 0) return 'rejected';
  const settled = [...SETTLED].reduce((n, s) => n + (tally[s] ?? 0), 0);
  return settled < total ? 'timeout' : 'ok';
}

/** Polls the replayed requests until each settles (or the timeout), showing the tally as it goes. */
async function watch(client: AdminClient, ids: string[], timeoutMs: number): Promise<Record<string, number>> {
  const spinner = progress(`watching ${ids.length} replayed request(s)`);
  const status = new Map<string, string>(ids.map((id) => [id, 'received']));
  const deadline = Date.now() + timeoutMs;
  const tally = () => {
    const t: Record<string, number> = {};
    for (const s of status.values()) t[s] = (t[s] ?? 0) + 1;
    return t;
  };
  const describe = () => {
    const t = tally();
    const settled = [...status.values()].filter((s) => SETTLED.has(s)).length;
    return `${settled}/${ids.length} settled: ${Object.entries(t).map(([s, n]) => `${n} ${s}`).join(', ')}`;
  };
  try {
    for (;;) {
      const open = ids.filter((id) => !SETTLED.has(status.get(id) ?? ''));
      if (open.length === 0) break;
      // A handful at a time: the admin API is not a bulk status endpoint.
      for (let i = 0; i < open.length; i += 8) {
        const batch = open.slice(i, i + 8);
        const got = await Promise.all(batch.map((id) => client.call<Detail>('GET', `/admin/registrations/${encodeURIComponent(id)}`)));
        for (const d of got) status.set(d.request_id, d.status);
        spinner.update(describe());
      }
      if (Date.now() > deadline) {
        spinner.warn(`${describe()} (stopped watching after ${timeoutMs} ms; the pipeline carries on)`);
        return tally();
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const t = tally();
    if ((t.failed ?? 0) + (t.rejected ?? 0) > 0) spinner.warn(describe());
    else spinner.succeed(describe());
    return t;
  } finally {
    spinner.stop();
  }
}

/** `dcr-pipeline ops …`: see what failed and why, replay it (calls the admin API). */
export function registerOpsCommands(program: Command): void {
  const ops = program.command('ops').description('operations over the admin API: failed registrations, their history, replay');
  const common = (cmd: Command) =>
    cmd
      .option('--admin-url <url>', 'admin API base URL (default http://DCR_ADMIN_HOST:DCR_ADMIN_PORT)')
      .option('--json', 'print the admin API\'s JSON');

  common(ops.command('failed'))
    .description('list failed registrations, newest first')
    .option('--status <status>', 'another status instead of failed (rejected, registered, ...)', 'failed')
    .option('--since <time>', 'updated since (ISO time or 30m, 2h, 1d)')
    .option('--error <text>', 'last error contains')
    .option('--limit <n>', 'how many (1 to 500)', parseCount(500), 50)
    .action(async (opts: AdminOptions & { status: string; since?: string; error?: string; limit: number }) => {
      const client = await adminClient(opts);
      const q = new URLSearchParams({ status: opts.status, limit: String(opts.limit) });
      const since = iso(opts.since, '--since');
      if (since) q.set('since', since);
      if (opts.error) q.set('error', opts.error);
      const page = await client.call<{ registrations: Summary[]; next_before: string | null }>('GET', `/admin/registrations?${q}`);
      if (opts.json) print(page);
      else {
        table(page.registrations);
        if (page.next_before) process.stderr.write(`(more: --limit larger than ${opts.limit})\n`);
      }
    });

  common(ops.command('show <requestId>'))
    .description('one registration with its full history: stages, attempts, errors, replays, actors')
    .action(async (requestId: string, opts: AdminOptions) => {
      const client = await adminClient(opts);
      const detail = await client.call<Detail>('GET', `/admin/registrations/${encodeURIComponent(requestId)}`);
      if (opts.json) print(detail);
      else timeline(detail);
    });

  common(ops.command('replay [requestId]'))
    .description('replay a failed registration from the stage that failed, or every match with --all')
    .option('--all', 'bulk: every registration matching the filter (default: status failed)')
    .option('--status <status>', 'with --all: failed (default) or rejected (needs --force)')
    .option('--since <time>', 'with --all: updated since (ISO time or 30m, 2h, 1d)')
    .option('--until <time>', 'with --all: updated before')
    .option('--error <text>', 'with --all: last error contains')
    .option('--force', 'also replay rejected requests (verify them again)')
    .option('--dry-run', 'count what would be replayed, change nothing')
    .option('--actor <name>', 'recorded in the audit trail', defaultActor())
    .option('--no-wait', 'do not watch the replayed requests settle')
    .option('--timeout <ms>', 'how long to watch (milliseconds)', parseMilliseconds, 60_000)
    .action(
      async (
        requestId: string | undefined,
        opts: AdminOptions & { all?: boolean; status?: string; since?: string; until?: string; error?: string; force?: boolean; dryRun?: boolean; actor: string; wait: boolean; timeout: number },
      ) => {
        if (!requestId === !opts.all) throw new CliError('usage', 'give either a request id or --all');
        const client = await adminClient(opts);
        if (requestId) {
          if (opts.dryRun) {
            const d = await client.call<Detail>('GET', `/admin/registrations/${encodeURIComponent(requestId)}`);
            const replayable = d.status === 'failed' || (d.status === 'rejected' && opts.force === true);
            process.stdout.write(`${requestId} is ${d.status}: ${replayable ? `would be replayed from ${d.failed_stage ?? 'verify'}` : 'would not be replayed'}\n`);
            return;
          }
          const res = await client.call<{ replayed: boolean; reason?: string; stage?: string; registration: Summary }>(
            'POST',
            `/admin/registrations/${encodeURIComponent(requestId)}/replay${opts.force ? '?force=true' : ''}`,
            undefined,
            opts.actor,
          );
          if (opts.json) print(res);
          else process.stdout.write(res.replayed ? `replayed ${requestId} from ${res.stage ?? '?'}\n` : `not replayed: ${res.reason ?? ''}\n`);
          if (!res.replayed) return setExit('rejected');
          if (opts.wait) setExit(exitForTally(await watch(client, [requestId], opts.timeout), 1));
          return;
        }
        const since = iso(opts.since, '--since');
        const until = iso(opts.until, '--until');
        const filter = {
          ...(opts.status ? { status: opts.status } : {}),
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
          ...(opts.error ? { error: opts.error } : {}),
          ...(opts.force ? { force: true } : {}),
        };
        const spinner = progress('counting matches');
        let result: BulkResult;
        try {
          const dry = await client.call<BulkResult>('POST', '/admin/replay', { ...filter, dryRun: true }, opts.actor);
          if (opts.dryRun) {
            spinner.succeed(`dry run: ${dry.matched} match, ${dry.replayed} would be replayed, ${dry.skipped} skipped`);
            if (opts.json) print(dry);
            return;
          }
          spinner.update(`replaying ${dry.replayed} registration(s)`);
          result = await client.call<BulkResult>('POST', '/admin/replay', filter, opts.actor);
          spinner.succeed(`matched ${result.matched}, replayed ${result.replayed}, skipped ${result.skipped}`);
        } finally {
          spinner.stop();
        }
        if (opts.json) print(result);
        if (opts.wait && result.requestIds.length > 0) setExit(exitForTally(await watch(client, result.requestIds, opts.timeout), result.requestIds.length));
      },
    );
}
