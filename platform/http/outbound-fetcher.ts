import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DcrError } from '../../core/domain/errors.js';
import { traceOutbound } from '../observability/tracing.js';
import { isPrivateAddress, matchHost, parseHostRule, type HostRule } from './address-policy.js';

/** The URL is not one we may fetch (scheme, host not allow-listed, private address): a policy refusal. */
export class FetchRefused extends DcrError {
  readonly code = 'ERR_FETCH_REFUSED';
}

/** The fetch was allowed but failed (network, timeout, status, size, parse): retryable. */
export class FetchFailed extends DcrError {
  readonly code = 'ERR_FETCH_FAILED';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface FetchPolicy {
  allowedHosts: readonly string[];
  /** Extra trust anchors for outbound TLS (added to the system store, never replacing verification). */
  ca?: readonly string[];
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxBytes: number;
  /** `file://` URLs are allowed for operator-configured sources only. */
  allowFileUrls?: boolean;
}

/** A request other than a plain GET (token endpoints, introspection, admin APIs, webhooks). */
export interface OutboundRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** The answer to an {@link OutboundRequest}, whatever its status (the caller decides what a status means). */
export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface FetchResult {
  status: number;
  body: Buffer;
  /** Seconds the response may be cached, from `Cache-Control: max-age` (or `Expires`), if any. */
  maxAge: number | null;
  contentType: string | null;
  /** The validator (`ETag`) of the response, unless `Cache-Control: no-store` forbids keeping it. */
  etag: string | null;
  /** `Cache-Control: no-store`: nothing of this answer may be kept (no body, no validator). */
  noStore: boolean;
}

/** The answer to a conditional GET ({@link OutboundFetcher.fetchJsonConditional}). */
export type ConditionalJson =
  | { notModified: true; maxAge: number | null; etag: string | null }
  | { notModified: false; json: unknown; maxAge: number | null; etag: string | null };

/**
 * The one way the pipeline reaches out (SPEC §10.3): https only, host[:port] allow-list, DNS
 * resolved once and pinned (no rebinding), private/loopback addresses refused unless the host is
 * allow-listed exactly, no redirects, connect and total time limits, a size cap, TLS verification on.
 */
export class OutboundFetcher {
  readonly #rules: HostRule[];
  readonly #policy: FetchPolicy;
  /** Built once: a TLS context per request (CA bundle parsed each time) showed up in profiles. */
  readonly #secureContext: SecureContext | undefined;
  /**
   * Keep-alive connection pools, one per allow-listed host, port and the address it was resolved
   * to: a new TCP + TLS connection per fetch cost ≈ 1.5 ms (issue 21). A pool never connects
   * anywhere but the pinned address that passed the policy, so reuse keeps the SSRF guarantees; a
   * host that resolves elsewhere later gets a pool of its own.
   */
  readonly #pools = new Map<string, Agent>();

  constructor(policy: FetchPolicy) {
    this.#policy = policy;
    this.#rules = policy.allowedHosts.map(parseHostRule);
    this.#secureContext = policy.ca?.length ? createSecureContext({ ca: [...tlsRootCertificates(), ...policy.ca], minVersion: 'TLSv1.2' }) : undefined;
  }

  /** Closes the pooled connections (idle ones do not hold the process open). */
  close(): void {
    for (const pool of this.#pools.values()) pool.destroy();
    this.#pools.clear();
  }

  #pool(u: URL, resolved: { address: string; family: number }): Agent {
    const key = `${u.hostname}:${u.port || 443}|${resolved.address}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      // Bounded: a handful of directory / AS hosts in practice; the oldest pool goes first.
      if (this.#pools.size >= 64) {
        const [oldest] = this.#pools.keys();
        if (oldest !== undefined) {
          this.#pools.get(oldest)?.destroy();
          this.#pools.delete(oldest);
        }
      }
      pool = new Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 16, maxFreeSockets: 4, timeout: 30_000, scheduling: 'lifo' });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Throws {@link FetchRefused} unless the URL passes the allow-list (no connection is made). */
  check(url: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new FetchRefused(`not a URL: '${url.slice(0, 100)}'`);
    }
    if (u.protocol === 'file:' && this.#policy.allowFileUrls) return u;
    if (u.protocol !== 'https:') throw new FetchRefused(`scheme '${u.protocol.replace(':', '')}' is not allowed (https only)`);
    if (u.username || u.password) throw new FetchRefused('credentials in URLs are not allowed');
    const port = u.port ? Number(u.port) : 443;
    if (!matchHost(this.#rules, u.hostname, port).allowed) throw new FetchRefused(`host '${u.host}' is not in the outbound allow-list`);
    return u;
  }

  /**
   * GET `url`. With `ifNoneMatch` (an `ETag` from an earlier answer) the request is conditional
   * (RFC 9110 §13.1.2): a `304 Not Modified` then comes back as status 304 with an empty body, and
   * the caller keeps what it has. A 304 to an unconditional request is a failure, as any non-200 is.
   */
  async fetch(url: string, accept = 'application/json', ifNoneMatch?: string): Promise<FetchResult> {
    const u = this.check(url);
    if (u.protocol === 'file:') {
      const body = await readFile(fileURLToPath(u)).catch((error: unknown) => {
        throw new FetchFailed(`cannot read ${u.pathname}`, undefined, { cause: error });
      });
      if (body.length > this.#policy.maxBytes) throw new FetchFailed(`file larger than ${this.#policy.maxBytes} bytes`);
      return { status: 200, body, maxAge: null, contentType: null, etag: null, noStore: false };
    }
    const port = u.port ? Number(u.port) : 443;
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    const { exact } = matchHost(this.#rules, hostname, port);
    const address = await this.#resolve(hostname, exact);
    return this.#get(u, address, accept, ifNoneMatch);
  }

  /**
   * A JSON document, revalidated when `etag` names the copy the caller holds: `notModified` (no
   * body) when the server answers 304, else the new document and its validator.
   */
  async fetchJsonConditional(url: string, etag?: string): Promise<ConditionalJson> {
    const result = await this.fetch(url, 'application/json', etag);
    // A 304 without an ETag leaves the held validator in force (RFC 9111: a 304 freshens the stored response), unless it says `no-store`.
    if (result.status === 304) return { notModified: true, maxAge: result.maxAge, etag: result.noStore ? null : (result.etag ?? etag ?? null) };
    try {
      return { notModified: false, json: JSON.parse(result.body.toString('utf8')), maxAge: result.maxAge, etag: result.etag };
    } catch (error) {
      throw new FetchFailed(`${url}: response is not JSON`, result.status, { cause: error });
    }
  }

  /**
   * Sends a request under the same policy as {@link fetch} (allow-list, pinned address, limits, no
   * redirects followed) and returns the response whatever its status. Headers named by the caller
   * (an `authorization` header, say) are never logged here.
   */
  async request(url: string, init: OutboundRequest): Promise<OutboundResponse> {
    const u = this.check(url);
    if (u.protocol === 'file:') throw new FetchRefused('file URLs can only be read');
    const port = u.port ? Number(u.port) : 443;
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    const { exact } = matchHost(this.#rules, hostname, port);
    const address = await this.#resolve(hostname, exact);
    return this.#send(u, address, init);
  }

  async fetchJson(url: string): Promise<{ json: unknown; maxAge: number | null }> {
    const result = await this.fetch(url, 'application/json');
    try {
      return { json: JSON.parse(result.body.toString('utf8')), maxAge: result.maxAge };
    } catch (error) {
      throw new FetchFailed(`${url}: response is not JSON`, result.status, { cause: error });
    }
  }

  async #resolve(hostname: string, exact: boolean): Promise<{ address: string; family: number }> {
    let resolved: { address: string; family: number };
    if (isIP(hostname)) resolved = { address: hostname, family: isIP(hostname) };
    else {
      try {
        resolved = await lookup(hostname, { verbatim: true });
      } catch (error) {
        throw new FetchFailed(`cannot resolve '${hostname}'`, undefined, { cause: error });
      }
    }
    if (!exact && isPrivateAddress(resolved.address)) {
      throw new FetchRefused(`'${hostname}' resolves to a private or loopback address`);
    }
    return resolved;
  }

  async #get(u: URL, resolved: { address: string; family: number }, accept: string, ifNoneMatch?: string): Promise<FetchResult> {
    const conditional = ifNoneMatch !== undefined && ETAG.test(ifNoneMatch);
    const res = await this.#send(u, resolved, { method: 'GET', headers: conditional ? { accept, 'if-none-match': ifNoneMatch } : { accept } });
    const { status } = res;
    const header = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const cacheControl = header('cache-control');
    const noStore = cacheControl !== undefined && /\bno-store\b/i.test(cacheControl);
    const etag = header('etag');
    const validator = !noStore && etag !== undefined && ETAG.test(etag) ? etag : null;
    if (status === 304 && conditional) {
      return { status, body: Buffer.alloc(0), maxAge: maxAgeOf(cacheControl, header('expires')), contentType: null, etag: validator, noStore };
    }
    if (status >= 300 && status < 400) throw new FetchFailed(`${u.origin}${u.pathname}: redirects are not followed (HTTP ${status})`, status);
    if (status !== 200) throw new FetchFailed(`${u.origin}${u.pathname}: HTTP ${status}`, status);
    return { status, body: res.body, maxAge: maxAgeOf(cacheControl, header('expires')), contentType: header('content-type') ?? null, etag: validator, noStore };
  }

  #send(u: URL, resolved: { address: string; family: number }, init: OutboundRequest): Promise<OutboundResponse> {
    // A CLIENT span per request (platform/observability/tracing.ts); no trace context leaves for the remote host.
    return traceOutbound(init.method, u, resolved.address, () => this.#exchange(u, resolved, init));
  }

  #exchange(u: URL, resolved: { address: string; family: number }, init: OutboundRequest): Promise<OutboundResponse> {
    const { connectTimeoutMs, totalTimeoutMs, maxBytes } = this.#policy;
    const body = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body, 'utf8');
    const headers: Record<string, string> = { 'user-agent': 'dcr-pipeline', ...init.headers };
    if (body) headers['content-length'] = String(body.length);
    return new Promise<OutboundResponse>((resolve, reject) => {
      const req = request(
        {
          protocol: 'https:',
          host: u.hostname.replace(/^\[|\]$/g, ''),
          servername: isIP(u.hostname) ? undefined : u.hostname,
          port: u.port ? Number(u.port) : 443,
          path: `${u.pathname}${u.search}`,
          method: init.method,
          headers,
          // Connect to the address that passed the policy (no second resolution, no rebinding).
          lookup: ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
            opts.all ? cb(null, [{ address: resolved.address, family: resolved.family }]) : cb(null, resolved.address, resolved.family)) as never,
          minVersion: 'TLSv1.2',
          rejectUnauthorized: true,
          ...(this.#secureContext ? { secureContext: this.#secureContext } : {}),
          agent: this.#pool(u, resolved),
          timeout: connectTimeoutMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > maxBytes) {
            res.destroy();
            reject(new FetchFailed(`${u.origin}${u.pathname}: response larger than ${maxBytes} bytes`, status));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              res.destroy();
              reject(new FetchFailed(`${u.origin}${u.pathname}: response larger than ${maxBytes} bytes`, status));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (error) => reject(new FetchFailed(`${u.origin}${u.pathname}: ${error.message}`, status, { cause: error })));
        },
      );
      const total = setTimeout(() => {
        req.destroy(new Error(`timed out after ${totalTimeoutMs} ms`));
      }, totalTimeoutMs);
      req.on('timeout', () => req.destroy(new Error(`connect timed out after ${connectTimeoutMs} ms`)));
      req.on('error', (error) => reject(new FetchFailed(`${u.origin}${u.pathname}: ${error.message}`, undefined, { cause: error })));
      req.on('close', () => clearTimeout(total));
      req.end(body);
    });
  }
}

/** An entity tag as RFC 9110 §8.8.3 has it (strong or weak), bounded: anything else is not sent back. */
const ETAG = /^(W\/)?"[\x21\x23-\x7e]{0,200}"$/;

function tlsRootCertificates(): readonly string[] {
  return rootCertificates;
}

function maxAgeOf(cacheControl: string | undefined, expires: string | undefined): number | null {
  if (cacheControl) {
    if (/\bno-store\b|\bno-cache\b/i.test(cacheControl)) return 0;
    const m = /\bmax-age=(\d+)/i.exec(cacheControl);
    if (m) return Number(m[1]);
  }
  if (expires) {
    const t = Date.parse(expires);
    if (!Number.isNaN(t)) return Math.max(0, Math.floor((t - Date.now()) / 1000));
  }
  return null;
}
