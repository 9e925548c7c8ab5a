/**
 * The load generator: submits pre-built registrations over mutual TLS (a fresh connection per
 * registration by default, as TPPs do; `reuseConnections` keeps one keep-alive agent per TPP),
 * either at a fixed rate (open model: requests start on schedule, whether earlier ones answered or
 * not) or at a fixed concurrency (closed model), follows `202`s by polling `Location` until the
 * registration is final, and records submit → final-outcome latency in an HDR histogram.
 *
 * `runLoad` runs in the calling process; `runLoadInChild` (bench/load-worker.ts) runs it in a child
 * Node process so the client's TLS and signing work is not on the server's event loop. Either way it
 * reports the CPU time the generator itself used.
 *
 * A prepared request is a registration `POST` to the job's path by default; `method` and `path` make
 * it any other call (e.g. an RFC 7592 `GET /register/{client_id}` with its `Authorization` in
 * `headers`), which succeeds on a 2xx answer.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';

export interface LoadIdentity {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface PreparedRequest {
  /** index into `identities` (the submitting TPP's transport certificate) */
  identity: number;
  /** `POST` when absent (a registration: 201, or 202 followed by polling); any other method succeeds on a 2xx */
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** the request's own path (e.g. `/register/<client_id>`); the job's `path` when absent */
  path?: string;
  /** this request's own headers (e.g. `authorization`), on top of the job's */
  headers?: Record<string, string>;
  /** the body of a POST or PUT (ignored for GET and DELETE) */
  body: string;
  contentType: string;
}

export type LoadMode = { kind: 'concurrency'; concurrency: number } | { kind: 'rate'; perSecond: number };

export interface LoadJob {
  label: string;
  /** e.g. https://localhost:8443 */
  origin: string;
  path: string;
  identities: LoadIdentity[];
  requests: PreparedRequest[];
  mode: LoadMode;
  /** stop issuing new requests after this long (in-flight ones finish); the pool may run out first */
  durationMs: number;
  /** skip this many ms of results at the start (warm-up; still sent) */
  warmupMs: number;
  reuseConnections: boolean;
  /** poll 202 → Location until the registration is final */
  followAccepted: boolean;
  pollIntervalMs: number;
  timeoutMs: number;
  progress: boolean;
  /** extra request headers on the POST (e.g. `prefer: respond-async`) */
  headers?: Record<string, string>;
  /** with `followAccepted: false`: count a 202 as success (a submission-only phase) */
  acceptedIsSuccess?: boolean;
  /**
   * start again at the first request when the pool runs out, until the duration is over (only for
   * requests that may be repeated, e.g. reads); `poolExhausted` then stays false
   */
  repeatRequests?: boolean;
}

/**
 * A fixed batch of registrations sent to `/register` at `concurrency` in flight until the pool is
 * used up, each 202 followed to its outcome, no warm-up skipped, no progress lines: the shape of
 * the bench's fixed-work measurements (cpu-per-registration.ts, fresh-slowdown.ts, the embedded
 * scenario's warm-up).
 */
export function fixedBatchJob(o: { label: string; origin: string; identities: LoadIdentity[]; requests: PreparedRequest[]; reuseConnections: boolean; concurrency: number }): LoadJob {
  return {
    label: o.label,
    origin: o.origin,
    path: '/register',
    identities: o.identities,
    requests: o.requests,
    mode: { kind: 'concurrency', concurrency: o.concurrency },
    durationMs: 600_000,
    warmupMs: 0,
    reuseConnections: o.reuseConnections,
    followAccepted: true,
    pollIntervalMs: 100,
    timeoutMs: 120_000,
    progress: false,
  };
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  label: string;
  mode: LoadMode;
  reuseConnections: boolean;
  /** requests started (including warm-up) */
  sent: number;
  /** measured (after warm-up): final outcome 'registered' (a POST), or a 2xx (any other method) */
  succeeded: number;
  /** measured: any other final outcome (HTTP status or error text → count) */
  failures: Record<string, number>;
  /** requests answered 202 and followed by polling */
  accepted202: number;
  polls: number;
  /** the measured window: first measured start → last measured completion */
  measuredSeconds: number;
  /** succeeded / measuredSeconds */
  throughputPerSecond: number;
  latency: LatencySummary;
  /** CPU the generator process used during the whole run (user + system, seconds) */
  generatorCpuSeconds: number;
  generatorProcess: 'in-process' | 'child';
  poolExhausted: boolean;
}

interface Answer {
  status: number;
  location: string | undefined;
  text: string;
}

/**
 * One TLS context per identity, built once: a TPP's key and certificate are parsed once, as a real
 * client would, so the generator's per-request cost is the handshake itself.
 */
const contexts = new WeakMap<LoadIdentity, SecureContext>();
export function contextFor(id: LoadIdentity): SecureContext {
  let ctx = contexts.get(id);
  if (!ctx) {
    ctx = createSecureContext({ cert: id.certPem, key: id.keyPem, ca: id.caPem });
    contexts.set(id, ctx);
  }
  return ctx;
}

function send(
  job: LoadJob,
  agent: Agent | false,
  id: LoadIdentity,
  method: string,
  path: string,
  body?: string,
  contentType?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const url = new URL(job.origin);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: 'https:',
        hostname: url.hostname,
        port: url.port || 443,
        path,
        method,
        headers:
          body !== undefined
            ? { ...job.headers, ...headers, 'content-type': contentType ?? 'application/jwt', 'content-length': String(Buffer.byteLength(body)) }
            : headers,
        // with an agent, the cert/key/ca options are part of its connection-pool key; without one, the prebuilt context
        ...(agent ? { cert: id.certPem, key: id.keyPem, ca: id.caPem } : { secureContext: contextFor(id) }),
        agent,
        timeout: job.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const location = res.headers.location;
          resolve({ status: res.statusCode ?? 0, location: typeof location === 'string' ? location : undefined, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

type Outcome = { ok: true; polls: number; accepted: boolean } | { ok: false; reason: string; polls: number; accepted: boolean };

const FINAL_STATUSES = new Set(['registered', 'rejected', 'failed']);

async function submitAndFollow(job: LoadJob, agent: Agent | false, prepared: PreparedRequest): Promise<Outcome> {
  const id = job.identities[prepared.identity];
  if (!id) throw new Error(`no identity ${prepared.identity}`);
  const method = prepared.method ?? 'POST';
  if (method === 'GET' || method === 'DELETE') {
    const res = await send(job, agent, id, method, prepared.path ?? job.path, undefined, undefined, { ...job.headers, ...prepared.headers });
    return res.status >= 200 && res.status < 300
      ? { ok: true, polls: 0, accepted: false }
      : { ok: false, reason: `HTTP ${res.status} ${res.text.slice(0, 80)}`, polls: 0, accepted: false };
  }
  const first = await send(job, agent, id, method, prepared.path ?? job.path, prepared.body, prepared.contentType, prepared.headers);
  if (first.status === 201) return { ok: true, polls: 0, accepted: false };
  if (first.status === 202 && job.acceptedIsSuccess) return { ok: true, polls: 0, accepted: true };
  if (first.status !== 202 || !job.followAccepted || !first.location) {
    return { ok: false, reason: `HTTP ${first.status} ${first.text.slice(0, 80)}`, polls: 0, accepted: first.status === 202 };
  }
  const location = first.location.startsWith('http') ? new URL(first.location).pathname : first.location;
  const deadline = Date.now() + job.timeoutMs;
  for (let polls = 1; ; polls++) {
    await new Promise((r) => setTimeout(r, job.pollIntervalMs));
    const res = await send(job, agent, id, 'GET', location);
    if (res.status !== 200) return { ok: false, reason: `poll HTTP ${res.status}`, polls, accepted: true };
    const status = (JSON.parse(res.text) as { status?: unknown }).status;
    if (typeof status === 'string' && FINAL_STATUSES.has(status)) {
      return status === 'registered' ? { ok: true, polls, accepted: true } : { ok: false, reason: `final ${status}`, polls, accepted: true };
    }
    if (Date.now() > deadline) return { ok: false, reason: 'poll timeout', polls, accepted: true };
  }
}

function summarise(h: hdr.Histogram): LatencySummary {
  const us = (v: number) => Math.round(v) / 1000;
  return {
    count: h.totalCount,
    meanMs: Math.round(h.mean) / 1000,
    p50Ms: us(h.getValueAtPercentile(50)),
    p90Ms: us(h.getValueAtPercentile(90)),
    p95Ms: us(h.getValueAtPercentile(95)),
    p99Ms: us(h.getValueAtPercentile(99)),
    maxMs: us(h.maxValue),
  };
}

/** Runs one load phase in this process. `onProgress` gets a line about every 5 s when `job.progress`. */
export async function runLoad(job: LoadJob, onProgress: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<LoadResult> {
  const cpuStart = process.cpuUsage();
  // microseconds, 1 µs .. 120 s, 3 significant digits
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
  const agents = job.identities.map(() =>
    job.reuseConnections ? new Agent({ keepAlive: true, maxSockets: job.mode.kind === 'concurrency' ? job.mode.concurrency : 64 }) : false,
  );
  const failures: Record<string, number> = {};
  let next = 0;
  let sent = 0;
  let succeeded = 0;
  let accepted202 = 0;
  let polls = 0;
  let inFlight = 0;
  let poolExhausted = false;
  const t0 = performance.now();
  const measureFrom = t0 + job.warmupMs;
  const stopAt = t0 + job.warmupMs + job.durationMs;
  let firstMeasured = Number.POSITIVE_INFINITY;
  let lastMeasured = 0;
  let doneSinceTick = 0;

  const one = async (prepared: PreparedRequest, agentIndex: number) => {
    const start = performance.now();
    inFlight++;
    let outcome: Outcome;
    try {
      outcome = await submitAndFollow(job, agents[agentIndex] ?? false, prepared);
    } catch (error) {
      outcome = { ok: false, reason: error instanceof Error ? error.message.slice(0, 60) : String(error), polls: 0, accepted: false };
    }
    const end = performance.now();
    inFlight--;
    doneSinceTick++;
    if (start < measureFrom) return;
    firstMeasured = Math.min(firstMeasured, start);
    lastMeasured = Math.max(lastMeasured, end);
    polls += outcome.polls;
    if (outcome.accepted) accepted202++;
    if (outcome.ok) {
      succeeded++;
      histogram.recordValue(Math.max(1, Math.round((end - start) * 1000)));
    } else {
      failures[outcome.reason] = (failures[outcome.reason] ?? 0) + 1;
    }
  };

  const take = (): PreparedRequest | undefined => {
    if (job.repeatRequests && next >= job.requests.length && job.requests.length > 0) next = 0;
    const r = job.requests[next];
    if (!r) {
      poolExhausted = true;
      return undefined;
    }
    next++;
    sent++;
    return r;
  };

  const ticker = job.progress
    ? setInterval(() => {
        const elapsed = (performance.now() - t0) / 1000;
        onProgress(`  [${job.label}] ${elapsed.toFixed(0)} s: ${sent} sent, ${succeeded} succeeded, ${doneSinceTick / 5}/s last 5 s, ${inFlight} in flight`);
        doneSinceTick = 0;
      }, 5000)
    : undefined;

  try {
    if (job.mode.kind === 'concurrency') {
      const workers = Array.from({ length: job.mode.concurrency }, async () => {
        for (;;) {
          if (performance.now() >= stopAt) return;
          const r = take();
          if (!r) return;
          await one(r, r.identity);
        }
      });
      await Promise.all(workers);
    } else {
      const interval = 1000 / job.mode.perSecond;
      const pending: Promise<void>[] = [];
      for (let i = 0; ; i++) {
        const due = t0 + i * interval;
        if (due >= stopAt) break;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const r = take();
        if (!r) break;
        pending.push(one(r, r.identity));
      }
      await Promise.all(pending);
    }
  } finally {
    if (ticker) clearInterval(ticker);
    for (const a of agents) if (a) a.destroy();
  }
  const cpu = process.cpuUsage(cpuStart);
  const measuredSeconds = Number.isFinite(firstMeasured) ? (lastMeasured - firstMeasured) / 1000 : 0;
  const result: LoadResult = {
    label: job.label,
    mode: job.mode,
    reuseConnections: job.reuseConnections,
    sent,
    succeeded,
    failures,
    accepted202,
    polls,
    measuredSeconds: Math.round(measuredSeconds * 1000) / 1000,
    throughputPerSecond: measuredSeconds > 0 ? Math.round((succeeded / measuredSeconds) * 10) / 10 : 0,
    latency: summarise(histogram),
    generatorCpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
    generatorProcess: 'in-process',
    poolExhausted,
  };
  histogram.destroy();
  return result;
}

export type WorkerMessage = { kind: 'progress'; line: string } | { kind: 'result'; result: LoadResult } | { kind: 'error'; message: string };

/** Runs the phase in a child Node process (bench/load-worker.ts); its pid is handed to `onPid` for RSS/CPU sampling. */
export function runLoadInChild(job: LoadJob, onProgress: (line: string) => void = (l) => process.stderr.write(`${l}\n`), onPid?: (pid: number) => void): Promise<LoadResult> {
  const worker = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
  const child = fork(worker, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (child.pid !== undefined) onPid?.(child.pid);
  return new Promise((resolve, reject) => {
    let settled = false;
    child.on('message', (raw) => {
      const message = raw as WorkerMessage;
      if (message.kind === 'progress') onProgress(message.line);
      else if (message.kind === 'result') {
        settled = true;
        resolve({ ...message.result, generatorProcess: 'child' });
        child.disconnect();
      } else {
        settled = true;
        reject(new Error(`load worker: ${message.message}`));
        child.disconnect();
      }
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`load worker exited with ${code}`));
    });
    child.send(job);
  });
}
