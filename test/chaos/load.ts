/**
 * The chaos load: N pre-signed registrations from many sandbox TPPs, started at a fixed rate with at
 * most `concurrency` in flight, each over a fresh mutual-TLS connection. A TPP that gets no answer
 * (connection refused or reset, timeout) or a 5xx / 429 sends the SAME bytes again with the same
 * certificate after a backoff, as a well-behaved client does: the intake's idempotency (one request per
 * submission) must make that safe. 201 (registered), 202 (accepted, request id to poll) and 400 are
 * answers; any other status is recorded as unexpected. Each request records what the intake answered,
 * so the invariants can check every acknowledged submission against the stores.
 */
import { X509Certificate } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import { sha256Base64url } from '../../core/domain/ids.js';
import { contextFor, type LoadIdentity, type PreparedRequest } from '../../bench/load-generator.js';

export type Answer = 'registered' | 'accepted' | 'rejected' | 'unexpected' | 'unanswered';

export interface RequestRecord {
  index: number;
  identity: number;
  /** what the intake keys the submission on (kind, client id, certificate thumbprint, body) */
  submissionKey: string;
  answer: Answer;
  httpStatus?: number;
  /** 202: request_id from the body */
  requestId?: string;
  /** 201: client_id from the body */
  clientId?: string;
  /** 400 / unexpected: the body (trimmed) */
  detail?: string;
  /** POSTs sent (1 = no retry) */
  attempts: number;
  startedMs: number;
  answeredMs?: number;
}

export interface LoadOptions {
  origin: string;
  identities: LoadIdentity[];
  requests: PreparedRequest[];
  /** new registrations started per second */
  ratePerSecond: number;
  /** at most this many registrations in flight (the rate waits for a free slot) */
  concurrency: number;
  /** client timeout of one HTTP exchange */
  requestTimeoutMs: number;
  /** a registration is given up (`unanswered`) when no answer came this long after its first POST */
  giveUpAfterMs: number;
  log: (line: string) => void;
  progressEveryMs?: number;
}

export interface LoadProgress {
  started: number;
  /** registrations that got an answer or were given up */
  finished: number;
  registered201: number;
  accepted202: number;
  rejected400: number;
  inFlight: number;
  done: boolean;
}

export interface LoadSummary {
  submitted: number;
  answered201: number;
  answered202: number;
  answered400: number;
  unexpected: number;
  unanswered: number;
  /** POSTs sent again with the same bytes */
  retries: number;
  retriesByReason: Record<string, number>;
  /** registrations that needed at least one retry */
  retriedRegistrations: number;
  maxAttempts: number;
  wallSeconds: number;
  ratePerSecond: number;
  concurrency: number;
}

interface HttpAnswer {
  status: number;
  text: string;
}

function post(origin: URL, id: LoadIdentity, body: string, contentType: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions & { secureContext: SecureContext } = {
      protocol: 'https:',
      hostname: origin.hostname,
      port: origin.port || 443,
      path: '/register',
      method: 'POST',
      headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) },
      secureContext: contextFor(id),
      agent: false,
      timeout: timeoutMs,
    };
    const req = request(
      options,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function reasonOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code) return e.code;
  const m = e instanceof Error ? e.message : String(error);
  if (/socket hang up/i.test(m)) return 'ECONNRESET';
  return m.slice(0, 40);
}

/** The intake's submission key for a create (services/intake/submission.ts). */
export function submissionKeyOf(identity: LoadIdentity, body: string): string {
  const thumbprint = Buffer.from(new X509Certificate(identity.certPem).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  return sha256Base64url(`create\n\n${thumbprint}\n${body.trim()}`);
}

/**
 * Runs the load; `progress` is updated live (the fault schedule triggers on it). Resolves when every
 * registration has an answer or was given up.
 */
export async function runChaosLoad(options: LoadOptions, progress: LoadProgress): Promise<{ records: RequestRecord[]; summary: LoadSummary }> {
  const origin = new URL(options.origin);
  const t0 = performance.now();
  const since = () => Math.round(performance.now() - t0);
  const records: RequestRecord[] = options.requests.map((r, index) => {
    const id = options.identities[r.identity];
    if (!id) throw new Error(`no identity ${r.identity}`);
    return { index, identity: r.identity, submissionKey: submissionKeyOf(id, r.body), answer: 'unanswered', attempts: 0, startedMs: 0 };
  });
  const retriesByReason: Record<string, number> = {};
  let retries = 0;

  const one = async (prepared: PreparedRequest, record: RequestRecord) => {
    const id = options.identities[prepared.identity] as LoadIdentity;
    record.startedMs = since();
    const giveUpAt = performance.now() + options.giveUpAfterMs;
    for (let attempt = 1; ; attempt++) {
      record.attempts = attempt;
      let reason: string;
      try {
        const res = await post(origin, id, prepared.body, prepared.contentType, options.requestTimeoutMs);
        if (res.status === 201 || res.status === 202 || res.status === 400) {
          record.httpStatus = res.status;
          record.answeredMs = since();
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(res.text) as Record<string, unknown>;
          } catch {
            /* recorded below */
          }
          if (res.status === 201) {
            record.answer = 'registered';
            if (typeof body.client_id === 'string') record.clientId = body.client_id;
            progress.registered201++;
          } else if (res.status === 202) {
            record.answer = 'accepted';
            if (typeof body.request_id === 'string') record.requestId = body.request_id;
            progress.accepted202++;
          } else {
            record.answer = 'rejected';
            record.detail = res.text.slice(0, 300);
            progress.rejected400++;
          }
          return;
        }
        if (res.status >= 500 || res.status === 429 || res.status === 408) {
          reason = `HTTP ${res.status}`;
        } else {
          record.answer = 'unexpected';
          record.httpStatus = res.status;
          record.detail = res.text.slice(0, 300);
          record.answeredMs = since();
          return;
        }
      } catch (error) {
        reason = reasonOf(error);
      }
      if (performance.now() >= giveUpAt) {
        record.answer = 'unanswered';
        record.detail = `gave up after ${attempt} attempts; last: ${reason}`;
        return;
      }
      retries++;
      retriesByReason[reason] = (retriesByReason[reason] ?? 0) + 1;
      // exponential backoff with jitter, 200 ms .. 5 s: the client's own pacing, not a synchronisation
      const base = Math.min(5000, 200 * 2 ** Math.min(attempt - 1, 5));
      await new Promise((r) => setTimeout(r, base / 2 + Math.random() * (base / 2)));
    }
  };

  const ticker = setInterval(() => {
    options.log(
      `load ${(since() / 1000).toFixed(0)} s: ${progress.started}/${options.requests.length} started, ${progress.registered201} answered 201, ${progress.accepted202} 202, ${progress.rejected400} 400, ${progress.inFlight} in flight, ${retries} retries`,
    );
  }, options.progressEveryMs ?? 10_000);

  const slots: Promise<void>[] = [];
  const inFlight = new Set<Promise<void>>();
  try {
    const interval = 1000 / options.ratePerSecond;
    for (let i = 0; i < options.requests.length; i++) {
      const due = i * interval;
      const wait = due - (performance.now() - t0);
      // the schedule of an open-model load: start times, not a stand-in for synchronisation
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      const prepared = options.requests[i] as PreparedRequest;
      progress.started++;
      progress.inFlight++;
      const p: Promise<void> = one(prepared, records[i] as RequestRecord).finally(() => {
        progress.inFlight--;
        progress.finished++;
        inFlight.delete(p);
      });
      inFlight.add(p);
      slots.push(p);
    }
    await Promise.all(slots);
  } finally {
    clearInterval(ticker);
    progress.done = true;
  }

  const count = (a: Answer) => records.filter((r) => r.answer === a).length;
  return {
    records,
    summary: {
      submitted: records.length,
      answered201: count('registered'),
      answered202: count('accepted'),
      answered400: count('rejected'),
      unexpected: count('unexpected'),
      unanswered: count('unanswered'),
      retries,
      retriesByReason,
      retriedRegistrations: records.filter((r) => r.attempts > 1).length,
      maxAttempts: Math.max(0, ...records.map((r) => r.attempts)),
      wallSeconds: Math.round(since() / 100) / 10,
      ratePerSecond: options.ratePerSecond,
      concurrency: options.concurrency,
    },
  };
}
