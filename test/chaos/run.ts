/**
 * `npm run chaos` (tsx test/chaos/run.ts): the fault-injection suite.
 *   1. the rate limiter when its Redis dies (rate-limit-redis.ts, a few seconds);
 *   2. the distributed pipeline under faults (suite.ts): by default 3000 registrations while each
 *      worker type is killed with SIGKILL and restarted, Redis, Kafka and MongoDB are killed and
 *      restarted, and the sandbox directory is down for 40 s; then settle, replay `failed`, and check
 *      the invariants in the stores. Writes bench/results/chaos-<name>.json.
 *
 * Options: --count N (3000), --name NAME (full), --tpps N (50), --rate R per second (6),
 * --concurrency N (48), --short (the short variant's settings, name "short"), --keep (keep the work
 * dir), --skip-rate-limit, --faults verifier,mongo,… (a subset of the schedule: intake, verifier,
 * revocation, provisioner, redis, kafka, mongo, directory), --downtime mongo=45000 (ms a killed server,
 * `service`, or the `directory` stays down), --fault-at SHARE (the first fault once this share of the
 * load has started; 0.05). Progress goes to stderr. Exits non-zero when any check or invariant fails.
 */
import { rateLimitRedisCheck } from './rate-limit-redis.js';
import { ALL_FAULTS, faultKey } from './faults.js';
import { fullRunOptions, runChaos, shortRunOptions } from './suite.js';

const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write('usage: npm run chaos -- [--count N] [--name NAME] [--tpps N] [--rate R] [--concurrency N] [--short] [--keep] [--skip-rate-limit] [--faults t1,t2] [--fault-at SHARE] [--downtime target=ms]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
const short = args.includes('--short');
const options = short ? shortRunOptions(log) : fullRunOptions(log);
let skipRateLimit = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  const value = () => {
    const v = args[++i];
    if (v === undefined) usage(`${arg} needs a value`);
    return v;
  };
  const positive = (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(`${arg}: not a positive number: ${v}`);
    return n;
  };
  switch (arg) {
    case '--count':
      options.count = Math.round(positive(value()));
      break;
    case '--name': {
      const name = value();
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) usage(`--name: letters, digits, . _ - only: ${name}`);
      options.name = name;
      break;
    }
    case '--tpps':
      options.tpps = Math.round(positive(value()));
      break;
    case '--rate':
      options.ratePerSecond = positive(value());
      break;
    case '--concurrency':
      options.concurrency = Math.round(positive(value()));
      break;
    case '--short':
      break;
    case '--faults': {
      // e.g. --faults verifier,mongo,directory: a subset of the schedule, in its order
      const wanted = value().split(',').map((t) => t.trim());
      const unknown = wanted.filter((t) => !ALL_FAULTS.some((f) => faultKey(f) === t));
      if (unknown.length) usage(`--faults: unknown ${unknown.join(', ')} (known: ${ALL_FAULTS.map(faultKey).join(', ')})`);
      options.faults = ALL_FAULTS.filter((f) => wanted.includes(faultKey(f)));
      break;
    }
    case '--downtime': {
      // e.g. --downtime mongo=45000 (ms; services: service=MS, the directory outage: directory=MS)
      const [target, ms] = value().split('=');
      const n = positive(ms ?? '');
      if (target === 'redis' || target === 'kafka' || target === 'mongo') options.timings.serverDowntimeMs = { ...options.timings.serverDowntimeMs, [target]: n };
      else if (target === 'service') options.timings.serviceDowntimeMs = n;
      else if (target === 'directory') options.timings.directoryOutageMs = n;
      else usage(`--downtime: redis, kafka, mongo, service or directory, not ${target}`);
      break;
    }
    case '--fault-at': {
      // e.g. --fault-at 0.4: the (first) fault once this share of the load has started (default 0.05)
      const share = positive(value());
      if (share >= 1) usage(`--fault-at: a share below 1, not ${share}`);
      options.timings.firstAt = share;
      options.timings.lastAt = Math.max(share, options.timings.lastAt);
      break;
    }
    case '--keep':
      options.keepWorkDir = 'always';
      break;
    case '--skip-rate-limit':
      skipRateLimit = true;
      break;
    case '--help':
    case '-h':
      usage();
    default:
      usage(`unknown option ${arg}`);
  }
}

let failures = 0;
let rateLimit: Awaited<ReturnType<typeof rateLimitRedisCheck>> | undefined;
if (!skipRateLimit) {
  log('rate limiter with a dying Redis');
  rateLimit = await rateLimitRedisCheck((line) => log(`  ${line}`));
  if (!rateLimit.ok) failures++;
}
try {
  const result = await runChaos({ ...options, ...(rateLimit ? { extra: { rateLimitRedis: rateLimit } } : {}) });
  if (!result.ok) failures++;
  const s = result.load;
  log(
    `registrations ${s.submitted}: 201 ${s.answered201}, 202 ${s.answered202}, 400 ${s.answered400}, unexpected ${s.unexpected}, unanswered ${s.unanswered}; retries ${s.retries} (${JSON.stringify(s.retriesByReason)})`,
  );
  const latency = (result.report.counters.latencyOfInFlightAtFault ?? []) as { fault: string; inFlight: number; p50Seconds: number | null; p99Seconds: number | null }[];
  result.faults.forEach((f, i) => {
    const l = latency[i];
    log(
      `  ${f.fault.padEnd(30)} at ${String(f.atSeconds).padStart(6)} s: back after ${f.outageMs} ms, resumed +${f.resumedMs ?? '—'} ms, registered +${f.firstRegisteredMs ?? '—'} ms${l ? `; ${l.inFlight} in flight: submit→final p50 ${l.p50Seconds ?? '—'} s, p99 ${l.p99Seconds ?? '—'} s` : ''}`,
    );
  });
  if (result.unexpectedExits.length) log(`unexpected exits: ${result.unexpectedExits.map((e) => `${e.service} (${e.code ?? e.signal})`).join(', ')}`);
  log(`wall time ${result.wallSeconds} s; result: ${result.resultFile}`);
} catch (error) {
  failures++;
  log(`chaos run aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}
log(failures === 0 ? 'OK' : `${failures} part(s) failed`);
process.exit(failures === 0 ? 0 : 1);
