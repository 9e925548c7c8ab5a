/**
 * Hostile-input fuzzer over the intake's HTTP surface (issue 9). Inputs come from fast-check with a
 * fixed seed: random and mutated request JWS (flipped bytes, cuts, duplicated segments, huge
 * headers, embedded keys, `alg: none`), JSON bodies (deep nesting, duplicates), odd headers
 * (content types, Prefer, Authorization, request ids, a forged RFC 9440 header), paths (NUL,
 * traversal, long ids, bad percent-encoding), invalid UTF-8 and oversized bodies. Requests go over
 * keep-alive mTLS connections (and some without a client certificate). The only claims checked are
 * the service's: no 5xx for bad input, every routed error is JSON `{error, error_description}`,
 * and the process keeps answering.
 */
import { Agent, request } from 'node:https';
import fc from 'fast-check';
import type { MtlsIdentity } from '../../sandbox/tpp-client/https-client.js';

export interface FuzzInput {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send without a client certificate. */
  anonymous: boolean;
}

export interface FuzzSeeds {
  /** Validly signed request JWTs of a sandbox TPP (the mutation bases). */
  validJws: string[];
  /** The TPP's SSA (a JWS too). */
  ssa: string;
  /** Ids that exist: a client id and a request id of that TPP, to aim management calls at. */
  clientId?: string;
  requestId?: string;
  maxBodyBytes: number;
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

const CONTENT_TYPES = [
  'application/jwt',
  'application/jose',
  'application/JWT',
  'application/jwt; charset=utf-8',
  'application/jwt; charset=utf-16',
  'application/jwt;;;',
  'application/json',
  'application/json; charset=latin1',
  'application/jose+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'text/plain',
  'application/octet-stream',
  '*/*',
  ' ',
  'application/',
  '/jwt',
  'application/jwt, application/json',
];

/** Header values Node's client will send (no CR/LF/NUL); includes latin-1 bytes. */
const headerValue = fc
  .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)), { maxLength: 300 })
  .map((codes) => String.fromCharCode(...codes).trim() || 'x');

const idLike = fc.oneof(
  fc.stringMatching(/^[0-9a-zA-Z]{1,40}$/),
  fc.uuid(),
  fc.constantFrom('%00', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%ff%fe', '%c0%ae%c0%ae', '%', '%zz', '%E2%80%AE', 'null', 'undefined', '[object Object]', '__proto__', 'constructor', '$where', '{"$ne":null}', "'; DROP TABLE clients;--"),
  fc.integer({ min: 200, max: 7000 }).map((n) => 'a'.repeat(n)),
  fc.string({ maxLength: 60 }).map((s) => encodeURIComponent(s)),
);

function pathArb(seeds: FuzzSeeds): fc.Arbitrary<string> {
  const known = [seeds.clientId, seeds.requestId].filter((v): v is string => typeof v === 'string');
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant('/register') },
    { weight: 3, arbitrary: idLike.map((id) => `/register/${id}`) },
    { weight: 2, arbitrary: idLike.map((id) => `/register/requests/${id}`) },
    { weight: 1, arbitrary: known.length ? fc.constantFrom(...known.map((id) => `/register/${id}`), ...known.map((id) => `/register/requests/${id}`)) : fc.constant('/register') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '/register/%00',
        '/register/../../etc/passwd',
        '/register/..%2F..%2Fetc%2Fpasswd',
        '/%2e%2e/%2e%2e/admin',
        '//register',
        '/register//',
        '/register/requests/',
        '/register?a=1&a=2&__proto__[x]=1',
        '/register?%zz',
        '/.well-known/openid-configuration',
        '/.well-known/openid-configuration?x=%00',
        '/.well-known/../register',
        '/openapi.json',
        '/health/live',
        '/health/ready',
        '/health/%2e%2e/register',
        '/admin/registrations',
        '/metrics',
        '/REGISTER',
        '/register;jsessionid=1',
        '/register%2F',
        '/register/\u00e9',
        '*',
      ),
    },
  );
}

/** Mutations of a valid compact JWS. */
function mutatedJws(seeds: FuzzSeeds): fc.Arbitrary<{ kind: string; text: Buffer }> {
  const base = fc.constantFrom(...seeds.validJws);
  const header = (h: Record<string, unknown>) => b64u(JSON.stringify(h));
  const withHeader = (jws: string, h: string) => [h, ...jws.split('.').slice(1)].join('.');
  return fc.oneof(
    fc.tuple(base, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([jws, pos, xor]) => {
      const b = Buffer.from(jws);
      const i = pos % b.length;
      b[i] = (b[i] ?? 0) ^ xor;
      return { kind: 'jws-flip', text: b };
    }),
    fc.tuple(base, fc.nat()).map(([jws, pos]) => ({ kind: 'jws-cut', text: Buffer.from(jws.slice(0, pos % (jws.length + 1))) })),
    fc.tuple(base, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 4 })).map(([jws, seg, times]) => {
      const parts = jws.split('.');
      const dup = Array<string>(times).fill(parts[seg] ?? '');
      parts.splice(seg, 0, ...dup);
      return { kind: 'jws-dup-segment', text: Buffer.from(parts.join('.')) };
    }),
    fc.tuple(base, fc.integer({ min: 4_000, max: 60_000 })).map(([jws, n]) => ({ kind: 'jws-huge-header', text: Buffer.from(withHeader(jws, header({ alg: 'PS256', typ: 'JWT', kid: 'k', pad: 'x'.repeat(n) }))) })),
    fc
      .tuple(
        base,
        fc.constantFrom<Record<string, unknown>>(
          { alg: 'none', typ: 'JWT' },
          { alg: 'HS256', typ: 'JWT', kid: 'k' },
          { alg: 'RS256', typ: 'JWT', kid: 'k' },
          { alg: 'PS256', typ: 'JWT', kid: 'k', jku: 'https://169.254.169.254/latest/meta-data' },
          { alg: 'PS256', typ: 'JWT', kid: 'k', x5u: 'https://127.0.0.1/x' },
          { alg: 'PS256', typ: 'JWT', kid: 'k', jwk: { kty: 'oct', k: 'AAAA' } },
          { alg: 'PS256', typ: 'JWT', kid: 'k', crit: ['b64'], b64: false },
          { alg: 'PS256', typ: 'JWT', kid: '../../../../etc/passwd' },
          { alg: 'PS256', typ: 'JWT', kid: 'x'.repeat(300) },
          { alg: 'PS256', typ: 'JWT', kid: { $ne: null } },
          { alg: 'PS256', typ: 'JWT', kid: 'k', enc: 'A256GCM' },
          { alg: ['PS256'], typ: 'JWT' },
          { alg: 'PS256', typ: 'JWT', __proto__: { admin: true } },
        ),
      )
      .map(([jws, h]) => ({ kind: 'jws-header-attack', text: Buffer.from(withHeader(jws, header(h))) })),
    base.map((jws) => {
      const [h, p, s] = jws.split('.');
      return { kind: 'jws-dup-member', text: Buffer.from(`${b64u(Buffer.from(h ?? '', 'base64url').toString().replace(/^\{/, '{"alg":"none",'))}.${p}.${s}`) };
    }),
    base.map((jws) => ({ kind: 'jws-padding', text: Buffer.from(jws.split('.').map((s) => `${s}==`).join('.')) })),
    base.map((jws) => ({ kind: 'jws-std-base64', text: Buffer.from(jws.split('.').map((s) => Buffer.from(s, 'base64url').toString('base64')).join('.')) })),
    base.map((jws) => ({ kind: 'jws-json-serialisation', text: Buffer.from(JSON.stringify({ payload: jws.split('.')[1], signatures: [{ protected: jws.split('.')[0], signature: jws.split('.')[2] }] })) })),
    fc.tuple(base, fc.constantFrom(' ', '\n', '\t', '\u0000', '\u00a0')).map(([jws, ws]) => ({ kind: 'jws-whitespace', text: Buffer.from(`${ws}${jws.replace('.', `${ws}.`)}${ws}`) })),
    base.map((jws) => {
      const [h, p] = jws.split('.');
      return { kind: 'jws-zero-signature', text: Buffer.from(`${h}.${p}.${b64u(Buffer.alloc(64))}`) };
    }),
    base.map((jws) => {
      const [h, , s] = jws.split('.');
      return { kind: 'jws-ssa-as-payload', text: Buffer.from(`${h}.${b64u(seeds.ssa)}.${s}`) };
    }),
    fc.tuple(base, fc.jsonValue({ maxDepth: 4 })).map(([jws, v]) => {
      const [h, , s] = jws.split('.');
      return { kind: 'jws-random-payload', text: Buffer.from(`${h}.${b64u(JSON.stringify(v) ?? 'null')}.${s}`) };
    }),
    fc.tuple(base, fc.integer({ min: 1_000, max: 40_000 })).map(([jws, depth]) => {
      const [h, , s] = jws.split('.');
      return { kind: 'jws-deep-payload', text: Buffer.from(`${h}.${b64u(`${'['.repeat(depth)}${']'.repeat(depth)}`)}.${s}`) };
    }),
  );
}

function bodyArb(seeds: FuzzSeeds): fc.Arbitrary<{ kind: string; text: Buffer }> {
  return fc.oneof(
    { weight: 8, arbitrary: mutatedJws(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds.validJws).map((jws) => ({ kind: 'jws-valid', text: Buffer.from(jws) })) },
    { weight: 2, arbitrary: fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/), { minLength: 1, maxLength: 6 }).map((parts) => ({ kind: 'random-dots', text: Buffer.from(parts.join('.')) })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => ({ kind: 'json-random', text: Buffer.from(JSON.stringify(v) ?? 'null') })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 100, max: 30_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => ({
        kind: 'json-deep',
        text: Buffer.from(`${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`),
      })),
    },
    { weight: 1, arbitrary: fc.constantFrom('{"a":1,"a":2}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"redirect_uris":"x"}', 'null', '[]', '""', '1e999999', '-0', '{"a":"\\ud800"}').map((t) => ({ kind: 'json-odd', text: Buffer.from(t) })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((b) => ({ kind: 'bytes-random', text: Buffer.from(b) })) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('eyJ\u00ff.\ud800.x', 'latin1')).map((b) => ({ kind: 'utf8-invalid', text: b })) },
    { weight: 1, arbitrary: fc.integer({ min: seeds.maxBodyBytes - 8, max: seeds.maxBodyBytes * 3 }).map((n) => ({ kind: 'oversized', text: Buffer.alloc(n, 0x61) })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty', text: Buffer.alloc(0) }) },
  );
}

function headersArb(seeds: FuzzSeeds): fc.Arbitrary<Record<string, string>> {
  return fc.record(
    {
      'content-type': fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom('application/jwt', 'application/jose') },
        { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 1, arbitrary: headerValue },
      ),
      prefer: fc.oneof(fc.constantFrom('respond-async', 'respond-async, wait=0', 'RESPOND-ASYNC', 'wait=100000', 'return=minimal', 'respond-async;;'), headerValue),
      authorization: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'bearer x', 'Bearer a b c', `Bearer ${seeds.validJws[0] ?? ''}`, `Bearer ${'A'.repeat(8000)}`, 'DPoP x', 'Bearer \u00ff\u00fe'),
        fc.stringMatching(/^[A-Za-z0-9._~+/-]{0,100}$/).map((t) => `Bearer ${t}`),
        headerValue,
      ),
      'x-request-id': fc.oneof(headerValue, fc.constantFrom('../../x', '%00', 'x'.repeat(5000))),
      'client-cert': fc.oneof(fc.constantFrom(':AAAA:', ':'.repeat(3), `:${Buffer.alloc(300, 1).toString('base64')}:`), headerValue),
      accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/jwt', ''),
      'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
      'content-encoding': fc.constantFrom('gzip', 'deflate', 'identity', 'x'),
      'x-forwarded-for': fc.constantFrom('127.0.0.1', '10.0.0.1, 127.0.0.1', 'unknown'),
    },
    { requiredKeys: ['content-type'] },
  );
}

export function fuzzInputArb(seeds: FuzzSeeds): fc.Arbitrary<FuzzInput> {
  return fc
    .tuple(
      fc.oneof(
        { weight: 5, arbitrary: fc.constant<[string, string]>(['POST', '/register']) },
        {
          weight: 2,
          arbitrary: fc.tuple(fc.constantFrom<string>('PUT', 'GET', 'DELETE'), seeds.clientId ? fc.oneof(fc.constant(seeds.clientId), idLike) : idLike).map(([m, id]): [string, string] => [m, `/register/${id}`]),
        },
        { weight: 3, arbitrary: fc.tuple(fc.constantFrom<string>(...METHODS), pathArb(seeds)) },
      ),
      headersArb(seeds),
      fc.option(bodyArb(seeds), { nil: undefined, freq: 8 }),
      fc.integer({ min: 0, max: 9 }),
    )
    .map(([[method, path], headers, body, anonDie]) => ({
      kind: body?.kind ?? 'no-body',
      method,
      path,
      headers,
      ...(body && method !== 'GET' && method !== 'HEAD' ? { body: body.text } : {}),
      anonymous: anonDie === 0,
    }));
}

export interface FuzzResult {
  total: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  /** Responses of status ≥ 500, with the input (truncated) that caused each. */
  serverErrors: Array<{ status: number; method: string; path: string; kind: string; response: string }>;
  /** 4xx answers whose body is not the JSON error shape (count, and the first 50). */
  nonJsonErrorCount: number;
  nonJsonErrors: Array<{ status: number; method: string; path: string; body: string }>;
  /** Requests that got no HTTP answer (connection reset, e.g. after a 413 the server closes). */
  transportErrors: Record<string, number>;
  /** The first inputs that got no HTTP answer. */
  transportErrorSamples: Array<{ error: string; method: string; path: string; kind: string; bodyBytes: number; headerBytes: number }>;
  /** HEAD requests with a malformed request line: answered 400 with a body, which the client calls stray data. */
  headAnsweredWithBody: Record<string, number>;
  /** Inputs Node's own HTTP client refuses to put on the wire (e.g. unescaped characters in the path). */
  notSent: Record<string, number>;
}

export class FuzzClient {
  private readonly withCert: Agent;
  private readonly anonymous: Agent;
  private readonly url: URL;

  constructor(baseUrl: string, identity: MtlsIdentity, maxSockets = 8) {
    this.url = new URL(baseUrl);
    const common = { keepAlive: true, maxSockets, ca: identity.caPem };
    this.withCert = new Agent({ ...common, cert: identity.certPem, key: identity.keyPem });
    this.anonymous = new Agent(common);
  }

  /** Requests resent once because a kept-alive socket was closed by the server as they were written. */
  keepAliveRetries = 0;

  async send(input: FuzzInput, timeoutMs = 30_000): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    try {
      return await this.sendOnce(input, timeoutMs);
    } catch (error) {
      // The documented keep-alive race (Node http docs, `request.reusedSocket`): retry once.
      if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        this.keepAliveRetries++;
        return this.sendOnce(input, timeoutMs);
      }
      throw error;
    }
  }

  private sendOnce(input: FuzzInput, timeoutMs: number): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...input.headers };
      if (input.body !== undefined) headers['content-length'] = String(input.body.length);
      const req = request(
        {
          protocol: 'https:',
          hostname: this.url.hostname,
          port: this.url.port,
          method: input.method,
          path: input.path,
          headers,
          agent: input.anonymous ? this.anonymous : this.withCert,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error: Error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      if (input.body !== undefined) req.write(input.body);
      req.end();
    });
  }

  close(): void {
    this.withCert.destroy();
    this.anonymous.destroy();
  }
}

/** Error codes of Node's HTTP client validating a request before sending it. */
const CLIENT_SIDE_REFUSALS = new Set(['ERR_UNESCAPED_CHARACTERS', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE']);

function isJsonError(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string' && typeof (parsed as { error_description?: unknown }).error_description === 'string';
  } catch {
    return false;
  }
}

/**
 * Sends `count` inputs drawn with `seed` through `client`, `concurrency` at a time, and tallies the
 * answers. Inputs are generated in batches so memory stays flat over long runs.
 */
export async function runFuzz(
  client: FuzzClient,
  seeds: FuzzSeeds,
  options: { seed: number; count: number; concurrency?: number; batch?: number; onProgress?: (done: number, result: FuzzResult) => void },
): Promise<FuzzResult> {
  const arb = fuzzInputArb(seeds);
  const result: FuzzResult = { total: 0, byStatus: {}, byKind: {}, serverErrors: [], nonJsonErrorCount: 0, nonJsonErrors: [], transportErrors: {}, transportErrorSamples: [], headAnsweredWithBody: {}, notSent: {} };
  const batch = options.batch ?? 500;
  const concurrency = options.concurrency ?? 8;
  for (let start = 0, round = 0; start < options.count; start += batch, round++) {
    const inputs = fc.sample(arb, { seed: options.seed + round, numRuns: Math.min(batch, options.count - start) });
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < inputs.length; i = next++) {
        const input = inputs[i];
        if (!input) continue;
        result.total++;
        result.byKind[input.kind] = (result.byKind[input.kind] ?? 0) + 1;
        try {
          const res = await client.send(input);
          result.byStatus[res.status] = (result.byStatus[res.status] ?? 0) + 1;
          if (res.status >= 500) {
            result.serverErrors.push({ status: res.status, method: input.method, path: input.path.slice(0, 200), kind: input.kind, response: res.body.slice(0, 300) });
          } else if (res.status >= 400 && input.method !== 'HEAD' && !isJsonError(res.body)) {
            result.nonJsonErrorCount++;
            if (result.nonJsonErrors.length < 50) result.nonJsonErrors.push({ status: res.status, method: input.method, path: input.path.slice(0, 200), body: res.body.slice(0, 200) });
          }
        } catch (error) {
          const key = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message).slice(0, 80) : 'unknown';
          // A HEAD whose request line the server's parser refused is answered 400 with a JSON body (the
          // parser never got to know it was a HEAD); Node's client then reports the body as stray data.
          const headAnsweredWithBody = input.method === 'HEAD' && key === 'HPE_CLOSED_CONNECTION';
          const bucket = CLIENT_SIDE_REFUSALS.has(key) ? result.notSent : headAnsweredWithBody ? result.headAnsweredWithBody : result.transportErrors;
          bucket[key] = (bucket[key] ?? 0) + 1;
          if (bucket === result.transportErrors && result.transportErrorSamples.length < 20) {
            result.transportErrorSamples.push({
              error: key,
              method: input.method,
              path: input.path.slice(0, 100),
              kind: input.kind,
              bodyBytes: input.body?.length ?? 0,
              headerBytes: Object.entries(input.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0),
            });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    options.onProgress?.(start + inputs.length, result);
  }
  return result;
}
