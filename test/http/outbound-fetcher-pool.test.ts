/**
 * Issue 21 item 1: the outbound fetcher reuses its connections (a keep-alive pool per allow-listed
 * host and pinned address) instead of a TCP + TLS handshake per fetch, and keeps its policy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchRefused, OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import { SandboxDirectory } from '../../sandbox/directory-sandbox/index.js';

describe('the outbound fetcher pools connections per allow-listed host', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let caPem: string;
  let connections = 0;
  const policy = { connectTimeoutMs: 2000, totalTimeoutMs: 5000, maxBytes: 1024 * 1024 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcr-pool-'));
    const directory = await SandboxDirectory.open({ dataDir: dir, baseUrl: 'https://localhost:1' });
    caPem = directory.caCertPem;
    const tls = await directory.issueServerCertificate(['localhost', '127.0.0.1']);
    server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'max-age=60');
      res.end(JSON.stringify({ keys: [], path: req.url }));
    });
    server.on('secureConnection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('N fetches to one host open one connection; another allow-listed name for the same address gets its own pool', async () => {
    const fetcher = new OutboundFetcher({ ...policy, allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`], ca: [caPem] });
    try {
      const before = connections;
      for (let i = 0; i < 5; i++) {
        const { json, maxAge } = await fetcher.fetchJson(`https://127.0.0.1:${port}/jwks/${i}`);
        expect(json).toEqual({ keys: [], path: `/jwks/${i}` });
        expect(maxAge).toBe(60);
      }
      expect(connections - before).toBe(1);
      // A POST through request() rides the same pool.
      const posted = await fetcher.request(`https://127.0.0.1:${port}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
      expect(posted.status).toBe(200);
      expect(connections - before).toBe(1);
      await fetcher.fetchJson(`https://localhost:${port}/jwks/x`);
      expect(connections - before).toBe(2);
    } finally {
      fetcher.close();
    }
  });

  it('keeps its policy: a host off the allow-list is refused without a connection, pooled or not', async () => {
    const fetcher = new OutboundFetcher({ ...policy, allowedHosts: [`127.0.0.1:${port}`], ca: [caPem] });
    try {
      await fetcher.fetchJson(`https://127.0.0.1:${port}/warm`);
      const before = connections;
      await expect(fetcher.fetchJson(`https://localhost:${port}/jwks`)).rejects.toThrow(FetchRefused);
      await expect(fetcher.request(`https://127.0.0.1:${port + 1}/x`, { method: 'GET' })).rejects.toThrow(FetchRefused);
      expect(connections).toBe(before);
    } finally {
      fetcher.close();
    }
  });
});
