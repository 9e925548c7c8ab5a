/**
 * `npx tsx bench/tls-costs.ts [connections] [rounds]`: what a fresh mutual-TLS connection costs the
 * intake's TLS settings (bench/bound-server.ts intakeTlsOptions: TLS 1.3, client certificate
 * requested), issue 21 item 3.
 *  (a) TLS 1.3 session tickets: a node:https server answering 200 with the default settings (the
 *      server sends session tickets after each handshake) against one with `SSL_OP_NO_TICKET`
 *      (stateful tickets: OpenSSL still sends a ticket in TLS 1.3, naming a server-side session),
 *      against one with both and `sessionTimeout: 0`. The server's CPU per connection (process.cpuUsage
 *      of this process; the client is a child process), interleaved A B C A B C …, and the session
 *      tickets the client received per connection.
 *  (b) the peer certificate on each new socket: `getPeerX509Certificate()` against
 *      `getPeerCertificate().raw` (timed around the call, per connection).
 * One-shot clients (agent: false) never resume, as registration clients do not.
 */
import { fork } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, createServer, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { SandboxDirectory } from '../sandbox/directory-sandbox/index.js';
import { intakeTlsOptions } from './bound-server.js';

type ClientJob = { port: number; connections: number; concurrency: number; certPem: string; keyPem: string; caPem: string };

if (process.argv[2] === '--client') {
  // The client: `connections` one-shot mTLS requests, 16 at a time; answers the tickets it received.
  process.once('message', (job: ClientJob) => {
    const ctx = createSecureContext({ cert: job.certPem, key: job.keyPem, ca: job.caPem });
    let tickets = 0;
    let next = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const options: RequestOptions & { secureContext: typeof ctx } = { host: 'localhost', port: job.port, path: '/', method: 'GET', agent: false, secureContext: ctx };
        const req = request(options, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('socket', (s) => s.on('session', () => tickets++));
        req.on('error', reject);
        req.end();
      });
    void Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (next++ < job.connections) await one();
      }),
    ).then(() => {
      process.send?.({ tickets });
      process.disconnect();
    });
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const connections = Number.parseInt(process.argv[2] ?? '400', 10);
  const rounds = Number.parseInt(process.argv[3] ?? '5', 10);
  const dataDir = await mkdtemp(join(tmpdir(), 'dcr-tls-costs-'));
  try {
    const dir = await SandboxDirectory.open({ dataDir, baseUrl: 'https://localhost:1' });
    const server = await dir.issueServerCertificate(['localhost']);
    const tpp = await dir.createTpp('tls-costs');
    const tls = intakeTlsOptions({ certPem: server.certPem, keyPem: server.keyPem, clientCaPems: [dir.caCertPem] });
    const variants = {
      'tickets (default)': {},
      SSL_OP_NO_TICKET: { secureOptions: constants.SSL_OP_NO_TICKET },
      'SSL_OP_NO_TICKET, sessionTimeout 0': { secureOptions: constants.SSL_OP_NO_TICKET, sessionTimeout: 0 },
    } as const;
    const peerCalls = { x509: [] as number[], raw: [] as number[] };
    const results = new Map<string, { cpuMsPerConnection: number[]; ticketsPerConnection: number[] }>();
    for (let round = 0; round <= rounds; round++) {
      for (const [name, extra] of Object.entries(variants)) {
        const srv: Server = createServer({ ...tls, ...extra }, (req, res) => {
          const socket = req.socket as TLSSocket;
          // (b): each way once per new socket (alternating which goes first)
          const first = round % 2 === 0 ? 'x509' : 'raw';
          for (const way of first === 'x509' ? (['x509', 'raw'] as const) : (['raw', 'x509'] as const)) {
            const t = performance.now();
            const der = way === 'x509' ? socket.getPeerX509Certificate()?.raw : (socket.getPeerCertificate().raw as Buffer | undefined);
            const dt = performance.now() - t;
            if (!der) throw new Error('no peer certificate');
            if (round > 0) peerCalls[way].push(dt);
          }
          res.end('ok');
        });
        await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
        const port = (srv.address() as AddressInfo).port;
        const child = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', 'tsx'] });
        const started = new Promise<void>((resolve) => child.once('spawn', resolve));
        await started;
        const cpu0 = process.cpuUsage();
        const answer = new Promise<{ tickets: number }>((resolve) => child.once('message', (m) => resolve(m as { tickets: number })));
        child.send({ port, connections, concurrency: 16, certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: dir.caCertPem } satisfies ClientJob);
        const { tickets } = await answer;
        const cpu = process.cpuUsage(cpu0);
        await new Promise<void>((resolve) => srv.close(() => resolve()));
        if (round === 0) continue; // warm-up round
        const entry = results.get(name) ?? { cpuMsPerConnection: [], ticketsPerConnection: [] };
        entry.cpuMsPerConnection.push((cpu.user + cpu.system) / 1000 / connections);
        entry.ticketsPerConnection.push(tickets / connections);
        results.set(name, entry);
      }
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)] ?? 0;
    };
    process.stdout.write(`${connections} fresh mTLS connections per round, 16 in flight, ${rounds} rounds interleaved (after a warm-up round)\n`);
    process.stdout.write('(a) server CPU ms per connection (median, min–max over rounds); session tickets received per connection\n');
    for (const [name, r] of results) {
      process.stdout.write(
        `  ${name.padEnd(36)} ${median(r.cpuMsPerConnection).toFixed(3)} ms (${Math.min(...r.cpuMsPerConnection).toFixed(3)}–${Math.max(...r.cpuMsPerConnection).toFixed(3)}); tickets ${median(r.ticketsPerConnection).toFixed(2)}\n`,
      );
    }
    process.stdout.write('(b) peer certificate per new socket, median (p90) ms\n');
    for (const [way, xs] of Object.entries(peerCalls)) {
      const s = [...xs].sort((a, b) => a - b);
      process.stdout.write(`  ${way === 'x509' ? 'getPeerX509Certificate()' : 'getPeerCertificate().raw'}: ${median(s).toFixed(4)} (${(s[Math.floor(s.length * 0.9)] ?? 0).toFixed(4)}) over ${s.length}\n`);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}
