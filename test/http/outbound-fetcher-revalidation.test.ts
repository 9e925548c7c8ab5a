/**
 * Issue 21 item 3c: the fetcher revalidates (If-None-Match → 304) where the directory allows it,
 * and the key resolver keeps its keys (and their imported forms) on a 304. Against the sandbox
 * directory's real HTTPS server, which sends a strong ETag and answers If-None-Match.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundFetcher, type ConditionalJson } from '../../platform/http/outbound-fetcher.js';
import { KeyResolver } from '../../platform/jose/key-resolver.js';
import { SandboxDirectory, startSandboxDirectoryServer, type SandboxServer, type SandboxTpp } from '../../sandbox/directory-sandbox/index.js';

/** The real fetcher, recording what each conditional fetch answered. */
class RecordingFetcher extends OutboundFetcher {
  readonly answers: Array<{ sentEtag: boolean; notModified: boolean }> = [];
  override async fetchJsonConditional(url: string, etag?: string): Promise<ConditionalJson> {
    const answer = await super.fetchJsonConditional(url, etag);
    this.answers.push({ sentEtag: etag !== undefined, notModified: answer.notModified });
    return answer;
  }
}

describe('conditional fetches of directory documents', () => {
  let dataDir: string;
  let dir: SandboxDirectory;
  let tpp: SandboxTpp;
  const servers: Record<'noCache' | 'noStore', SandboxServer | undefined> = { noCache: undefined, noStore: undefined };
  const policy = { connectTimeoutMs: 5000, totalTimeoutMs: 10_000, maxBytes: 1024 * 1024 };
  const fetcherFor = (srv: SandboxServer, Kind: typeof OutboundFetcher = OutboundFetcher) =>
    new Kind({ ...policy, allowedHosts: [`localhost:${srv.port}`], ca: [dir.caCertPem] });
  const jwksUrl = (srv: SandboxServer) => `https://localhost:${srv.port}/tpp/${tpp.orgId}/${tpp.softwareId}/jwks`;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-revalidate-'));
    dir = await SandboxDirectory.open({ dataDir, baseUrl: 'https://localhost:1' });
    tpp = await dir.createTpp('revalidate');
    servers.noCache = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port: 0, jwksCacheControl: 'no-cache' });
    servers.noStore = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port: 0, jwksCacheControl: 'no-store' });
  });
  afterAll(async () => {
    await servers.noCache?.close();
    await servers.noStore?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sends If-None-Match with the validator it was given and returns a 304 as not modified; no-store answers give no validator', async () => {
    const srv = servers.noCache as SandboxServer;
    const fetcher = fetcherFor(srv);
    try {
      const first = await fetcher.fetch(jwksUrl(srv));
      expect(first.status).toBe(200);
      expect(first.maxAge).toBe(0); // no-cache: stored, revalidated before each use
      expect(first.etag).toMatch(/^"[\w-]+"$/);
      const again = await fetcher.fetch(jwksUrl(srv), 'application/json', first.etag as string);
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      // A validator that does not match: the whole document again.
      const other = await fetcher.fetchJsonConditional(jwksUrl(srv), '"not-the-one"');
      expect(other.notModified).toBe(false);
      expect(other.notModified ? null : (other.json as { keys: unknown[] }).keys.length).toBeGreaterThan(0);

      const storeless = fetcherFor(servers.noStore as SandboxServer);
      try {
        const res = await storeless.fetch(jwksUrl(servers.noStore as SandboxServer));
        expect(res.status).toBe(200);
        expect(res.etag).toBeNull();
      } finally {
        storeless.close();
      }
    } finally {
      fetcher.close();
    }
  });

  it('the key resolver revalidates a no-cache JWKS on each use and keeps the imported key on 304', async () => {
    const srv = servers.noCache as SandboxServer;
    const fetcher = fetcherFor(srv, RecordingFetcher) as RecordingFetcher;
    try {
      const resolver = new KeyResolver(fetcher, { maxAgeSeconds: 300 });
      const first = await resolver.resolve(jwksUrl(srv), tpp.signingKid);
      const second = await resolver.resolve(jwksUrl(srv), tpp.signingKid);
      expect(second.key).toBe(first.key);
      expect(fetcher.answers).toEqual([
        { sentEtag: false, notModified: false },
        { sentEtag: true, notModified: true },
      ]);
    } finally {
      fetcher.close();
    }
  });
});
