import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { httpAnswer } from '../../../platform/http/error-response.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';

export interface ProtectionOptions {
  /**
   * Requests per minute per TPP (the client certificate's `tppIdentity`, else the TCP peer address).
   * 0 disables rate limiting.
   */
  rateLimitPerMinute: number;
  /** Shared counters across intake instances (`DCR_REDIS_URL`); unset: counters of this process. */
  redisUrl?: string;
  /** Key prefix in Redis (the deployment namespace). */
  namespace?: string;
  /**
   * Load shedding: answer 503 while the event loop delay (mean of the last sample window) exceeds
   * this many milliseconds. 0 disables it.
   */
  maxEventLoopDelayMs: number;
  /** Load shedding: answer 503 while the V8 heap in use exceeds this many bytes. 0 disables it. */
  maxHeapUsedBytes?: number;
  /** How often the event loop delay is sampled (default 1000 ms). */
  sampleIntervalMs?: number;
  /** `Retry-After` of a 503 answered while shedding load, in seconds. */
  retryAfterSeconds?: number;
}

/** Liveness and readiness are never limited nor shed: an orchestrator must see the process answer. */
function isExempt(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route === '/health/live' || route === '/health/ready';
}

/** The rate-limit bucket of a request: the TPP behind the client certificate, else its address. */
export function rateLimitKey(request: FastifyRequest): string {
  const identity = request.clientCertificate?.tppIdentity;
  return identity ? `tpp:${identity}` : `ip:${request.ip}`;
}

/** Most anonymous (per-address) counters kept in memory; the oldest is forgotten first. */
export const MAX_ANONYMOUS_COUNTERS = 5000;
/** Most TPP counters kept in memory: only counters whose window has passed are ever dropped. */
export const MAX_TPP_COUNTERS = 100_000;

interface Counter {
  current: number;
  ttl: number;
  iterationStartMs: number;
}

/**
 * The in-memory rate-limit store (no `DCR_REDIS_URL`), with two budgets: TPP counters (keys
 * `tpp:…`, one per certificate identity) are never evicted inside their window, whatever the
 * traffic of others; anonymous counters (`ip:…`) live in their own LRU of
 * {@link MAX_ANONYMOUS_COUNTERS}. So requests from many addresses cannot push a TPP's counter out and
 * reset it mid-window. Past {@link MAX_TPP_COUNTERS} live TPP counters (more certificate identities
 * in one window than any directory has), a new identity is counted in the anonymous budget.
 */
export class SplitBudgetStore {
  readonly #tpp = new Map<string, Counter>();
  readonly #anonymous = new Map<string, Counter>();

  incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number): void {
    const now = Date.now();
    const table = this.#table(key, now, timeWindow);
    let counter = table.get(key);
    if (!counter || counter.iterationStartMs + timeWindow <= now) counter = { current: 1, ttl: timeWindow, iterationStartMs: now };
    else counter = { ...counter, current: counter.current + 1, ttl: timeWindow - (now - counter.iterationStartMs) };
    table.delete(key);
    table.set(key, counter);
    if (table === this.#anonymous && table.size > MAX_ANONYMOUS_COUNTERS) {
      const oldest = table.keys().next().value;
      if (oldest !== undefined) table.delete(oldest);
    }
    cb(null, { current: counter.current, ttl: counter.ttl });
  }

  read(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number): void {
    const now = Date.now();
    const counter = this.#tpp.get(key) ?? this.#anonymous.get(key);
    if (!counter || counter.iterationStartMs + timeWindow <= now) cb(null, { current: 0, ttl: 0 });
    else cb(null, { current: counter.current, ttl: timeWindow - (now - counter.iterationStartMs) });
  }

  child(): SplitBudgetStore {
    return new SplitBudgetStore();
  }

  /** Counters kept (tests and metrics). */
  get sizes(): { tpp: number; anonymous: number } {
    return { tpp: this.#tpp.size, anonymous: this.#anonymous.size };
  }

  #table(key: string, now: number, timeWindow: number): Map<string, Counter> {
    if (!key.startsWith('tpp:')) return this.#anonymous;
    if (this.#tpp.has(key) || this.#tpp.size < MAX_TPP_COUNTERS) return this.#tpp;
    // Full: drop the counters whose window has passed (insertion order is window order).
    for (const [k, c] of this.#tpp) {
      if (c.iterationStartMs + timeWindow > now) break;
      this.#tpp.delete(k);
    }
    return this.#tpp.size < MAX_TPP_COUNTERS ? this.#tpp : this.#anonymous;
  }
}

/**
 * Per-TPP rate limiting (@fastify/rate-limit, Redis-backed when configured) and load shedding
 * (@fastify/under-pressure). Register after the client-certificate plugin so the rate limit can key
 * on the TPP identity. Both answer the pipeline's JSON error shape with `Retry-After`.
 */
export const protectionPlugin = fp(
  async (app: FastifyInstance, options: ProtectionOptions) => {
    const maxHeapUsedBytes = options.maxHeapUsedBytes ?? 0;
    if (options.maxEventLoopDelayMs > 0 || maxHeapUsedBytes > 0) {
      const retryAfter = options.retryAfterSeconds ?? 5;
      await app.register(underPressure, {
        maxEventLoopDelay: options.maxEventLoopDelayMs,
        maxHeapUsedBytes,
        sampleInterval: options.sampleIntervalMs ?? 1000,
        retryAfter,
        // Resolving lets the request through (health), rejecting answers through the error handler.
        pressureHandler: async (request: FastifyRequest) => {
          if (isExempt(request)) return;
          throw new HttpError('ERR_OVERLOADED', 'the service is overloaded; retry later', { 'retry-after': String(retryAfter) });
        },
      });
    }

    if (options.rateLimitPerMinute > 0) {
      const redis = options.redisUrl
        ? new Redis(options.redisUrl, { connectTimeout: 1000, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
        : undefined;
      if (redis) {
        // A Redis outage must not take the intake down: counting is skipped (skipOnError) and logged.
        redis.on('error', (err: Error) => app.log.warn({ err: { message: err.message } }, 'rate limit store unavailable'));
        app.addHook('onClose', async () => {
          redis.disconnect();
        });
        // Connected before the first request; if Redis is down now, ioredis keeps reconnecting meanwhile.
        await redis.connect().catch((err: unknown) => app.log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'rate limit store unavailable at start'));
      }
      // @fastify/rate-limit appends its hook to each route's own `onRequest` hooks, so a route hook
      // that answers (management authentication: 401/403) would run first and never be counted.
      // The hooks it adds are moved in front of the route's own: every attempt is counted, failed
      // ones included.
      const ownHooks = new WeakMap<object, unknown[]>();
      const hooksOf = (value: unknown): unknown[] => (Array.isArray(value) ? [...(value as unknown[])] : typeof value === 'function' ? [value] : []);
      app.addHook('onRoute', (route) => {
        ownHooks.set(route, hooksOf(route.onRequest));
      });
      await app.register(rateLimit, {
        global: true,
        hook: 'onRequest',
        max: options.rateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: rateLimitKey,
        allowList: (request) => isExempt(request),
        ...(redis ? { redis, nameSpace: `dcr${options.namespace ? `-${options.namespace}` : ''}-rl-`, skipOnError: true } : { store: SplitBudgetStore }),
        errorResponseBuilder: (_request, context) =>
          new HttpError('ERR_RATE_LIMITED', `too many requests; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`, {
            'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
          }),
      });
      app.addHook('onRoute', (route) => {
        const own = ownHooks.get(route) ?? [];
        const all = hooksOf(route.onRequest);
        const added = all.filter((hook) => !own.includes(hook));
        if (added.length > 0 && own.length > 0) route.onRequest = [...added, ...own] as typeof route.onRequest;
      });
    }
  },
  { name: 'dcr-protection' },
);

/**
 * Fastify `frameworkErrors`: errors raised by the router before any hook (a malformed percent
 * encoding, an over-long path parameter) answer the pipeline's JSON shape too (found by the fuzzer).
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const answer =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? httpAnswer('ERR_URI_TOO_LONG', 'a path segment is too long') : httpAnswer('ERR_INVALID_REQUEST', 'malformed URL');
  reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
}

/**
 * Fastify `clientErrorHandler`: what Node's HTTP parser refuses (invalid characters in the request
 * line or headers, header overflow, timeouts) is answered `{error, error_description}` before the
 * connection is closed, instead of Fastify's default body.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body: answer } =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? httpAnswer('ERR_REQUEST_TIMEOUT', 'the request was not received in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? httpAnswer('ERR_HEADERS_TOO_LARGE', 'the request headers are too large')
        : httpAnswer('ERR_INVALID_REQUEST', 'malformed HTTP request');
  const body = JSON.stringify(answer);
  // As Node does: no second answer when a response is already on the wire for this connection (e.g.
  // the rest of a body refused with 413 fails to parse as the next request).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
