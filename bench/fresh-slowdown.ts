/**
 * `npx tsx bench/fresh-slowdown.ts [N] [rounds]` (issue 21 point 4): why a registration costs the
 * pipeline more CPU on fresh mTLS connections than on keep-alive ones, beyond the handshake itself.
 * One embedded pipeline (bench/pipeline.ts) in this process, warmed up; then windows of N
 * registrations at 16 in flight (generator in a child process), interleaved per round:
 *   keep-alive             — the pipeline's own cost;
 *   keep-alive + handshakes — the same, while two other processes (a node:https server with the
 *                            intake's TLS settings, and a client opening one-shot mTLS connections to
 *                            it, 16 at a time) do on the same cores the handshake work a fresh-connection
 *                            run adds; none of it runs in this process;
 *   keep-alive + CPU burn  — the same, while one other process spins on SHA-256 (contention without TLS);
 *   fresh                  — a fresh mTLS connection per registration (what `npm run bench` measures).
 * Per window: this process's CPU (user + system) per registration, the machine's busy CPU seconds,
 * and the handshakes the background client made. If keep-alive + handshakes costs this process about
 * what fresh costs minus the handshake's own share, the slowdown is the machine's (two cores shared,
 * caches and scheduling), not code of ours that runs per connection. Prints a table and one JSON line.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request, createServer, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { intakeTlsOptions, type IntakeTls } from './bound-server.js';
import { createTpps, signedRequests } from './fixtures.js';
import { fixedBatchJob, runLoadInChild } from './load-generator.js';
import { startEmbeddedPipeline } from './pipeline.js';

type ServerJob = { role: 'server'; tls: IntakeTls };
type ClientJob = { role: 'client'; port: number; certPem: string; keyPem: string; caPem: string };
type BurnJob = { role: 'burn' };

const role = process.argv[2];
if (role === '--child') {
  process.once('message', (job: ServerJob | ClientJob | BurnJob) => {
    if (job.role === 'server') {
      const srv = createServer(intakeTlsOptions(job.tls), (_req, res) => res.end('ok'));
      srv.listen(0, '127.0.0.1', () => process.send?.({ port: (srv.address() as AddressInfo).port }));
    } else if (job.role === 'client') {
      const ctx = createSecureContext({ cert: job.certPem, key: job.keyPem, ca: job.caPem });
      let made = 0;
      let stopping = false;
      process.on('message', (m) => {
        if (m === 'stop') stopping = true;
      });
      const one = () =>
        new Promise<void>((resolve) => {
          const options: RequestOptions & { secureContext: typeof ctx } = { host: 'localhost', port: job.port, path: '/', agent: false, secureContext: ctx };
          const req = request(options, (res) => {
            res.resume();
            res.on('end', () => {
              made += 1;
              resolve();
            });
          });
          req.on('error', () => resolve());
          req.end();
        }).then(() => {
          // Running at full speed: the window may start (the handshakes before it are not counted).
          if (made === 32) process.send?.({ ready: true });
        });
      void Promise.all(Array.from({ length: 16 }, async () => {
        while (!stopping) await one();
      })).then(() => {
        process.send?.({ made: made - 32 });
        process.disconnect();
      });
    } else {
      const buf = randomBytes(64 * 1024);
      let stopping = false;
      process.on('message', (m) => {
        if (m === 'stop') stopping = true;
      });
      process.send?.({ ready: true });
      const spin = () => {
        const until = performance.now() + 20;
        while (performance.now() < until) createHash('sha256').update(buf).digest();
        if (stopping) process.disconnect();
        else setImmediate(spin);
      };
      spin();
    }
  });
} else {
  await main();
}

function child(job: ServerJob | ClientJob | BurnJob): ChildProcess {
  const c = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'] });
  c.send(job);
  return c;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const N = Number.parseInt(args[0] ?? '600', 10);
  const rounds = Number.parseInt(args[1] ?? '3', 10);
  const pipeline = await startEmbeddedPipeline();
  const dir = pipeline.directory;
  const server = await dir.issueServerCertificate(['localhost']);
  const other = await dir.createTpp('slowdown-background');
  const tls: IntakeTls = { certPem: server.certPem, keyPem: server.keyPem, clientCaPems: [dir.caCertPem] };
  const windows: Array<{ round: number; variant: string; cpuMsPerRegistration: number; machineBusyCpuSeconds: number; wallSeconds: number; backgroundHandshakes: number; succeeded: number }> = [];
  try {
    const tpps = await createTpps(dir, 20, pipeline.audience, 'slowdown');
    const variants = ['keep-alive', 'keep-alive + handshakes', 'keep-alive + CPU burn', 'fresh'] as const;
    const warmup = 200;
    const requests = await signedRequests(tpps, warmup + N * variants.length * rounds);
    let used = 0;
    const job = (count: number, reuse: boolean) => {
      const slice = requests.slice(used, used + count);
      used += count;
      return fixedBatchJob({ label: 'slowdown', origin: pipeline.origin, identities: tpps.identities, requests: slice, reuseConnections: reuse, concurrency: 16 });
    };
    const settled = async () => {
      for (;;) {
        const byStatus = await pipeline.rt.adapters.store.countRegistrationsByStatus();
        if ((byStatus.registered ?? 0) >= used) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const busy = () => cpus().reduce((a, c) => a + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
    // Warm-up: both connection modes, so that neither variant pays the JIT's first runs.
    await runLoadInChild(job(warmup / 2, true), () => {});
    await runLoadInChild(job(warmup / 2, false), () => {});
    await settled();
    for (let round = 1; round <= rounds; round++) {
      for (const variant of variants) {
        let background: ChildProcess[] = [];
        let made: Promise<number> = Promise.resolve(0);
        if (variant === 'keep-alive + handshakes') {
          const srv = child({ role: 'server', tls });
          const port = await new Promise<number>((resolve) => srv.once('message', (m) => resolve((m as { port: number }).port)));
          const cli = child({ role: 'client', port, certPem: other.transportCertPem, keyPem: other.transportKeyPem, caPem: dir.caCertPem });
          let ready!: () => void;
          const isReady = new Promise<void>((resolve) => (ready = resolve));
          made = new Promise((resolve) =>
            cli.on('message', (m: { ready?: boolean; made?: number }) => {
              if (m.ready) ready();
              if (m.made !== undefined) resolve(m.made);
            }),
          );
          await isReady;
          background = [cli, srv];
        } else if (variant === 'keep-alive + CPU burn') {
          const burn = child({ role: 'burn' });
          await new Promise<void>((resolve) => burn.once('message', () => resolve()));
          background = [burn];
        }
        const m0 = busy();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const load = await runLoadInChild(job(N, variant !== 'fresh'), () => {});
        await settled();
        const c = process.cpuUsage(c0);
        const wall = (performance.now() - t0) / 1000;
        const m1 = busy();
        for (const b of background) if (b.connected) b.send('stop');
        const handshakes = await made;
        for (const b of background) b.kill();
        windows.push({
          round,
          variant,
          cpuMsPerRegistration: Math.round(((c.user + c.system) / 1000 / N) * 100) / 100,
          machineBusyCpuSeconds: Math.round((m1 - m0) / 10) / 100,
          wallSeconds: Math.round(wall * 10) / 10,
          backgroundHandshakes: handshakes,
          succeeded: load.succeeded,
        });
        process.stderr.write(`${JSON.stringify(windows.at(-1))}\n`);
      }
    }
  } finally {
    await pipeline.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const summary = [...new Set(windows.map((w) => w.variant))].map((variant) => {
    const ws = windows.filter((w) => w.variant === variant);
    return { variant, medianCpuMsPerRegistration: median(ws.map((w) => w.cpuMsPerRegistration)), rounds: ws.map((w) => w.cpuMsPerRegistration), medianBackgroundHandshakesPerSecond: median(ws.map((w) => Math.round(w.backgroundHandshakes / w.wallSeconds))) };
  });
  process.stdout.write(`${N} registrations per window, 16 in flight, ${rounds} rounds interleaved; this process's CPU ms per registration\n`);
  for (const s of summary) process.stdout.write(`  ${s.variant.padEnd(26)} ${s.medianCpuMsPerRegistration.toFixed(2)} (rounds ${s.rounds.join(', ')})${s.medianBackgroundHandshakesPerSecond ? `; background ${s.medianBackgroundHandshakesPerSecond} handshakes/s` : ''}\n`);
  process.stdout.write(`${JSON.stringify({ registrationsPerWindow: N, rounds, loadAverage: loadavg(), summary, windows })}\n`);
  process.exit(0);
}
