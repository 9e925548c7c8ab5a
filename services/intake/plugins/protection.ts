import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimitCount, RateLimitStore } from '../../../core/ports/rate-limit.js';
import { httpAnswer } from '../../../platform/http/error-response.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';

export interface ProtectionOptions {
  /**
   * Requests per minute per TPP (the client certificate's `tppIdentity`, else the TCP peer address).
   * 0 disables rate limiting.
   */
  rateLimitPerMinute: number;
  /**
   * The counters (required when rate limiting is on), opened by the runtime wiring
   * (platform/runtime/service-stores.ts `openRateLimitStore`: Redis when `DCR_REDIS_URL` is set, shared
   * by every intake instance; else the counters of this process). The app owns it: closed with the app.
   */
  rateLimitStore?: RateLimitStore;
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

type Counted = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * @fastify/rate-limit's store contract over the {@link RateLimitStore} port. A route with its own
 * `config.rateLimit` (none today) counts under its own keys (`key@METHOD url`).
 */
class PortStore implements FastifyRateLimitStore {
  constructor(
    private readonly counters: RateLimitStore,
    private readonly suffix = '',
  ) {}

  incr(key: string, cb: Counted, timeWindow: number): void {
    PortStore.#answer(this.counters.hit(key + this.suffix, timeWindow), cb);
  }

  read(key: string, cb: Counted, timeWindow: number): void {
    PortStore.#answer(this.counters.peek(key + this.suffix, timeWindow), cb);
  }

  child(routeOptions: { method?: unknown; url?: unknown; routeInfo?: { method?: unknown; url?: unknown } }): FastifyRateLimitStore {
    const route = routeOptions.routeInfo ?? routeOptions;
    return new PortStore(this.counters, `${this.suffix}@${String(route.method)} ${String(route.url)}`);
  }

  static #answer(counting: Promise<RateLimitCount>, cb: Counted): void {
    counting.then(
      (count) => cb(null, { current: count.current, ttl: count.ttlMs }),
      (error: unknown) => cb(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/**
 * Per-TPP rate limiting (@fastify/rate-limit over the {@link RateLimitStore} port) and load shedding
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
      const given = options.rateLimitStore;
      if (!given) throw new Error('protection: rate limiting is on (rateLimitPerMinute > 0) but no rateLimitStore was given');
      const counters: RateLimitStore = given;
      app.addHook('onClose', async () => {
        await counters.close();
      });
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
        store: class extends PortStore {
          constructor() {
            super(counters);
          }
        },
        // A store outage (Redis down) must not take the intake down: counting is skipped (the store logs it).
        skipOnError: true,
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
