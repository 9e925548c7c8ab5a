import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxDirectory } from '../../sandbox/directory-sandbox/index.js';
import type { SandboxTpp } from '../../sandbox/directory-sandbox/index.js';
import { httpsGet, makeTempDir } from './helpers.js';

describe('transport certificates with Node tls (mTLS)', () => {
  const temps: Array<{ cleanup(): Promise<void> }> = [];
  let dir: SandboxDirectory;
  let tpp: SandboxTpp;
  let foreign: SandboxTpp;
  let server: Server;
  let url: string;
  let lenient: Server;
  let lenientUrl: string;
  const tlsErrors: Error[] = [];

  beforeAll(async () => {
    const a = await makeTempDir();
    const b = await makeTempDir();
    temps.push(a, b);
    dir = await SandboxDirectory.open({ dataDir: a.path, baseUrl: 'https://localhost:8444' });
    const otherDir = await SandboxDirectory.open({ dataDir: b.path, baseUrl: 'https://localhost:8444' });
    expect(otherDir.caCertPem).not.toBe(dir.caCertPem);
    [tpp, foreign] = await Promise.all([dir.createTpp('mtls-tpp'), otherDir.createTpp('foreign-tpp')]);
    const tls = await dir.issueServerCertificate(['localhost', '127.0.0.1']);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket as TLSSocket;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          subject: socket.getPeerCertificate().subject,
          authorized: socket.authorized,
          authorizationError: socket.authorizationError ?? null,
        }),
      );
    };
    const listen = async (srv: Server) => {
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const addr = srv.address();
      return `https://localhost:${typeof addr === 'object' && addr ? addr.port : 0}/`;
    };
    server = createServer({ cert: tls.certPem, key: tls.keyPem, ca: dir.caCertPem, requestCert: true }, handler);
    server.on('tlsClientError', (err: Error) => tlsErrors.push(err));
    url = await listen(server);
    lenient = createServer(
      { cert: tls.certPem, key: tls.keyPem, ca: dir.caCertPem, requestCert: true, rejectUnauthorized: false },
      handler,
    );
    lenientUrl = await listen(lenient);
  });

  afterAll(async () => {
    await Promise.all([server, lenient].map((srv) => new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve()))));
    await Promise.all(temps.map((t) => t.cleanup()));
  });

  it('accepts the transport certificate of a sandbox TPP', async () => {
    const res = await httpsGet(url, { ca: dir.caCertPem, cert: tpp.transportCertPem, key: tpp.transportKeyPem });
    expect(res.status).toBe(200);
    const body = res.json<{ subject: Record<string, string>; authorized: boolean }>();
    expect(body.authorized).toBe(true);
    expect(body.subject).toMatchObject({ CN: tpp.softwareId, OU: tpp.orgId, O: 'OpenBanking', C: 'GB' });
  });

  it('refuses a certificate issued by another CA', async () => {
    tlsErrors.length = 0;
    const err = await httpsGet(url, { ca: dir.caCertPem, cert: foreign.transportCertPem, key: foreign.transportKeyPem }).then(
      () => undefined,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    // TLS 1.3: the server's alert arrives after the client's handshake completed.
    expect(`${err?.code} ${err?.message}`).toMatch(/unknown ca|ECONNRESET|socket hang up/i);
    // Why: with rejectUnauthorized off, Node reports the chain does not lead to the trusted CA.
    const lenient = await httpsGet(lenientUrl, { ca: dir.caCertPem, cert: foreign.transportCertPem, key: foreign.transportKeyPem });
    expect(lenient.json()).toMatchObject({
      authorized: false,
      // OpenSSL error 21 ("unable to verify the first certificate"): no trusted issuer for the leaf.
      authorizationError: expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT.*)$/),
    });
    const ok = await httpsGet(lenientUrl, { ca: dir.caCertPem, cert: tpp.transportCertPem, key: tpp.transportKeyPem });
    expect(ok.json()).toMatchObject({ authorized: true, authorizationError: null });
  });

  it('refuses a connection without a client certificate', async () => {
    tlsErrors.length = 0;
    const err = await httpsGet(url, { ca: dir.caCertPem }).then(
      () => undefined,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    expect(`${err?.code} ${err?.message}`).toMatch(/certificate required|ECONNRESET|socket hang up/i);
    await expect.poll(() => tlsErrors.map((e) => e.message).join('\n')).toMatch(/peer did not return a certificate|certificate/i);
  });
});
