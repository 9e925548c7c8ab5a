/**
 * Issue 21: the revocation stage's documents (revoked JWKS and status lists, CRL, OCSP over GET)
 * are revalidated: a stale cache entry that kept the directory's `ETag` is asked for with
 * `If-None-Match`, and a 304 keeps the body and its verified form. Against the sandbox directory's
 * real HTTPS server (strong ETags, If-None-Match → 304), the in-process cache and, when the run has
 * one, the real Redis of the test support.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CacheEntry, RevocationCache } from '../../core/ports/revocation-cache.js';
import { SourceUnavailable } from '../../core/revocation/check.js';
import { MemoryRevocationCache } from '../../platform/adapters/embedded/revocation-cache.js';
import { RedisRevocationCache } from '../../platform/adapters/redis/revocation-cache.js';
import { FetchFailed, OutboundFetcher, type FetchResult } from '../../platform/http/outbound-fetcher.js';
import { crlDistributionPoints, crlVerdict, ocspResponders, parseCertificate, TrustAnchors, validateChain } from '../../platform/pki/revocation-evidence.js';
import { DirectorySources } from '../../platform/revocation/sources.js';
import { SandboxDirectory, startSandboxDirectoryServer, type SandboxServer, type SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra');

/** The real fetcher, recording what each GET sent and got. */
class RecordingFetcher extends OutboundFetcher {
  readonly log: Array<{ path: string; sentEtag: boolean; status: number }> = [];
  override async fetch(url: string, accept?: string, ifNoneMatch?: string): Promise<FetchResult> {
    const result = await super.fetch(url, accept, ifNoneMatch);
    this.log.push({ path: new URL(url).pathname.split('/').slice(0, 2).join('/'), sentEtag: ifNoneMatch !== undefined, status: result.status });
    return result;
  }
  take(): Array<{ sentEtag: boolean; status: number }> {
    return this.log.splice(0).map(({ sentEtag, status }) => ({ sentEtag, status }));
  }
}

const CAP_S = 300;

describe('revocation sources revalidate their documents', () => {
  let dataDir: string;
  let dir: SandboxDirectory;
  let tpp: SandboxTpp;
  let anchors: TrustAnchors;
  let main: SandboxServer; // default Cache-Control (max-age=60), the CRL and OCSP URLs of the certificates
  let noCache: SandboxServer;
  let noStore: SandboxServer;
  let misbehaving: Server; // answers 304 to everything
  let misbehavingPort: number;
  const policy = { connectTimeoutMs: 5000, totalTimeoutMs: 10_000, maxBytes: 1 << 20 };
  let fetcher: RecordingFetcher;
  const revokedUrl = (srv: { port: number }) => `https://localhost:${srv.port}/tpp/${tpp.orgId}/${tpp.softwareId}/revoked`;

  /** Sources and their cache on one test clock (`advance` moves both). */
  const sourcesWith = (makeCache: (clock: () => number) => RevocationCache = (clock) => new MemoryRevocationCache({ clock })) => {
    let now = Date.now();
    const cache = makeCache(() => now);
    const sources = new DirectorySources({ fetcher, cache, maxAgeSeconds: CAP_S, leewaySeconds: 30, clock: () => new Date(now) });
    return { sources, cache, advance: (seconds: number) => (now += seconds * 1000) };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-rev-revalidate-'));
    const port = await freeTcpPort();
    dir = await SandboxDirectory.open({ dataDir, baseUrl: `https://localhost:${port}` });
    tpp = await dir.createTpp('revalidate');
    anchors = new TrustAnchors([dir.caCertPem]);
    main = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port });
    noCache = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port: 0, jwksCacheControl: 'no-cache' });
    noStore = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port: 0, jwksCacheControl: 'no-store' });
    const tls = await dir.issueServerCertificate(['localhost', '127.0.0.1']);
    misbehaving = createServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) => {
      res.writeHead(304, { etag: '"always"', 'cache-control': 'max-age=60' });
      res.end();
    });
    await new Promise<void>((resolve) => misbehaving.listen(0, '127.0.0.1', resolve));
    const address = misbehaving.address();
    misbehavingPort = typeof address === 'object' && address ? address.port : 0;
    fetcher = new RecordingFetcher({
      ...policy,
      allowedHosts: [`localhost:${port}`, `localhost:${noCache.port}`, `localhost:${noStore.port}`, `localhost:${misbehavingPort}`],
      ca: [dir.caCertPem],
    });
  });
  afterAll(async () => {
    fetcher?.close();
    await Promise.all([main?.close(), noCache?.close(), noStore?.close(), new Promise((resolve) => (misbehaving ? misbehaving.close(resolve) : resolve(undefined)))]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('max-age: fresh from the cache, then revalidated; the 304 keeps the parsed document with a new lifetime from its headers', async () => {
    const { sources, cache, advance } = sourcesWith();
    const url = revokedUrl(main);
    fetcher.take();
    const first = await sources.json(url, 'revoked JWKS');
    const entry = await cache.get(`json:${url}`);
    expect(entry?.etag).toMatch(/^"[\w-]+"$/);
    expect(entry && entry.expiresAt - entry.storedAt).toBe(60_000);
    expect((await sources.json(url, 'revoked JWKS')).cached).toBe(true);
    advance(61); // max-age=60 lapsed: stale, still kept with its validator
    const second = await sources.json(url, 'revoked JWKS');
    expect(second.value).toBe(first.value); // the same parsed body: not taken again
    expect(second.cached).toBe(false); // the directory was asked
    expect(fetcher.take()).toEqual([
      { sentEtag: false, status: 200 },
      { sentEtag: true, status: 304 },
    ]);
    const renewed = await cache.get(`json:${url}`);
    expect(renewed?.body).toBe(entry?.body);
    expect(renewed?.etag).toBe(entry?.etag);
    expect(renewed && renewed.expiresAt - renewed.storedAt).toBe(60_000);
    expect((await sources.json(url, 'revoked JWKS')).cached).toBe(true);
    expect(fetcher.take()).toEqual([]);
  });

  it('no-cache: revalidated on every use; a changed document (new ETag) is taken', async () => {
    const other = await dir.createTpp('revalidate-changed');
    const url = `https://localhost:${noCache.port}/tpp/${other.orgId}/${other.softwareId}/revoked`;
    const { sources, cache } = sourcesWith();
    fetcher.take();
    const first = await sources.json(url, 'revoked JWKS');
    const second = await sources.json(url, 'revoked JWKS');
    expect(second.value).toBe(first.value);
    const before = await cache.get(`json:${url}`);
    await dir.revokeSigningKey('revalidate-changed');
    const third = await sources.json(url, 'revoked JWKS');
    expect((third.value as { keys: Array<{ kid?: string }> }).keys.map((k) => k.kid)).toContain(other.signingKid);
    expect((first.value as { keys: unknown[] }).keys).toEqual([]);
    expect(fetcher.take()).toEqual([
      { sentEtag: false, status: 200 },
      { sentEtag: true, status: 304 },
      { sentEtag: true, status: 200 },
    ]);
    const after = await cache.get(`json:${url}`);
    expect(after?.etag).toMatch(/^"[\w-]+"$/);
    expect(after?.etag).not.toBe(before?.etag);
  });

  it('no-store: never stored, never a validator: every use is a whole, unconditional fetch', async () => {
    const url = revokedUrl(noStore);
    const { sources, cache } = sourcesWith();
    fetcher.take();
    await sources.json(url, 'revoked JWKS');
    await sources.json(url, 'revoked JWKS');
    await sources.json(url, 'revoked JWKS', { fresh: true });
    expect(fetcher.take()).toEqual([
      { sentEtag: false, status: 200 },
      { sentEtag: false, status: 200 },
      { sentEtag: false, status: 200 },
    ]);
    expect(await cache.get(`json:${url}`)).toBeNull();
  });

  it('a 304 to an unconditional request is refused, and nothing is cached', async () => {
    const url = `https://localhost:${misbehavingPort}/status`;
    const { sources, cache } = sourcesWith();
    const direct = await fetcher.fetch(url).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(FetchFailed);
    expect((direct as FetchFailed).status).toBe(304);
    const refused = await sources.json(url, 'status list').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SourceUnavailable);
    expect((refused as SourceUnavailable).reason).toBe('directory_unreachable');
    expect((refused as Error).message).toContain('HTTP 304');
    expect(await cache.get(`json:${url}`)).toBeNull();
  });

  it('CRL and OCSP: a 304 keeps the verified evidence (no re-verification); a new CRL is verified and taken', async () => {
    const subject = await dir.createTpp('revalidate-crl');
    const cert = parseCertificate(subject.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const { sources, advance } = sourcesWith();
    const crlUrls = crlDistributionPoints(cert);
    const responders = ocspResponders(cert);
    fetcher.take();
    const crl = await sources.crl(crlUrls, issuer);
    const ocsp = await sources.ocsp(responders, cert, issuer);
    advance(CAP_S + 1); // the cap lapsed (nextUpdate is 1 h away): both stale, kept with their validators
    const crlAgain = await sources.crl(crlUrls, issuer);
    const ocspAgain = await sources.ocsp(responders, cert, issuer);
    // The very objects verified the first time: the 304 kept the bytes, the memo skipped the signature check.
    expect(crlAgain.value).toBe(crl.value);
    expect(ocspAgain.value).toBe(ocsp.value);
    expect(fetcher.take()).toEqual([
      { sentEtag: false, status: 200 },
      { sentEtag: false, status: 200 },
      { sentEtag: true, status: 304 },
      { sentEtag: true, status: 304 },
    ]);

    await dir.revokeTransportCertificate('revalidate-crl', { revokedJwks: false });
    advance(CAP_S + 1);
    const crlNew = await sources.crl(crlUrls, issuer);
    expect(crlNew.value).not.toBe(crl.value);
    expect(crlVerdict(crlNew.value, cert).revoked).toBe(true);
    const ocspNew = await sources.ocsp(responders, cert, issuer);
    expect(ocspNew.value.status).toBe('revoked');
    expect(fetcher.take()).toEqual([
      { sentEtag: true, status: 200 },
      { sentEtag: true, status: 200 },
    ]);
  });

  it('a stale entry altered in the cache is verified afresh after its 304: refused, and the whole CRL fetched and verified', async () => {
    const subject = await dir.createTpp('revalidate-altered');
    const cert = parseCertificate(subject.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const { sources, cache, advance } = sourcesWith();
    const crlUrls = crlDistributionPoints(cert);
    const genuine = await sources.crl(crlUrls, issuer);
    advance(CAP_S + 1);
    const key = `crl:${crlUrls[0]}`;
    const entry = (await cache.get(key)) as CacheEntry;
    const body = Buffer.from(entry.body, 'base64');
    body[body.length - 5] = (body[body.length - 5] ?? 0) ^ 0xff;
    const altered = body.toString('base64');
    await cache.set(key, { ...entry, body: altered }); // same validator, other bytes
    fetcher.take();
    const again = await sources.crl(crlUrls, issuer);
    // The altered bytes were verified (not taken from the memo of the genuine ones) and refused; the
    // directory's whole answer (the same CRL) was verified and cached instead.
    expect(fetcher.take()).toEqual([
      { sentEtag: true, status: 304 },
      { sentEtag: false, status: 200 },
    ]);
    expect(again.value.crl.thisUpdate).toEqual(genuine.value.crl.thisUpdate);
    const repaired = await cache.get(key);
    expect(repaired?.body).toBe(entry.body);
    expect(repaired?.body).not.toBe(altered);
    expect(repaired?.etag).toBe(entry.etag);
  });

  describe.skipIf(!infra)('over the Redis cache (distributed)', () => {
    it('one worker stores the validator, another revalidates with it: a 304 across instances', async () => {
      const ns = `reval${randomUUID().slice(0, 8)}`;
      const url = revokedUrl(main);
      const a = sourcesWith((clock) => new RedisRevocationCache(infra?.redisUrl ?? '', ns, { clock }));
      const b = sourcesWith((clock) => new RedisRevocationCache(infra?.redisUrl ?? '', ns, { clock }));
      try {
        fetcher.take();
        const first = await a.sources.json(url, 'revoked JWKS');
        const stored = await b.cache.get(`json:${url}`);
        expect(stored?.etag).toMatch(/^"[\w-]+"$/);
        expect(stored?.keepUntil).toBe((stored?.expiresAt ?? 0) + CAP_S * 1000);
        b.advance(61);
        const second = await b.sources.json(url, 'revoked JWKS');
        expect(second.value).toEqual(first.value);
        expect(fetcher.take()).toEqual([
          { sentEtag: false, status: 200 },
          { sentEtag: true, status: 304 },
        ]);
      } finally {
        await Promise.all([a.cache.close(), b.cache.close()]);
      }
    });
  });
});
