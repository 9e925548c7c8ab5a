// Issue 17, findings 10 and 11: slow-loris clients are closed at the configured bounds (small ones
// here, so the test is quick; Node checks them only every 30 s unless told otherwise), on the mTLS
// intake and on the admin listener; the data directory and its files are the service user's only.
import { chmod, mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startTestPipeline, type InfraUrls, type TestPipeline } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls;

/**
 * Resolves with what the server sent once it closes the connection. The server answers 408 and
 * destroys the socket while the client may still be sending: the bytes that reach a closed socket
 * make the server's kernel answer with a reset. So a reset after the answer has arrived is the
 * close (the answer was read first); a reset before any answer is an error.
 */
function closed(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' && chunks.length > 0) return;
      reject(error);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Each slow-client test gets 10 s (not the suite's 60 s): Node left to itself cannot close a slow
 * client before 10 s (its connection check runs every 30 s, the old header bound was 10 s), while
 * the configured bounds here are 0.3 s / 0.6 s checked every 30 ms. No test asserts how long the
 * close took.
 */
const SLOW_CLIENT_TEST_MS = 10_000;

describe('slow clients are closed at the configured bounds', () => {
  let pipeline: TestPipeline;
  let ops: RunningOps;
  let intakePort: number;
  let tpp: Awaited<ReturnType<TestPipeline['createTpp']>>;

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      stages: false,
      env: { DCR_HEADERS_TIMEOUT_MS: '300', DCR_REQUEST_TIMEOUT_MS: '600', DCR_ADMIN_PORT: '0', DCR_ADMIN_TOKEN: 'admin-token-0123456789abcdef' },
    });
    intakePort = Number(new URL(pipeline.intakeUrl).port);
    ops = await startOps(pipeline.rt, { announce: () => {} });
    tpp = await pipeline.createTpp();
  });
  afterAll(async () => {
    await ops?.stop();
    await pipeline?.stop();
  });

  async function tppSocket(): Promise<Socket> {
    const socket = tlsConnect({ host: 'localhost', port: intakePort, cert: tpp.identity.certPem, key: tpp.identity.keyPem, ca: tpp.identity.caPem });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return socket;
  }

  /** Sends `text` one byte at a time, a byte every 50 ms, until the server answers or closes the connection. */
  function dribble(socket: Socket, text: string): void {
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i >= text.length) return clearInterval(timer);
      socket.write(text.charAt(i++));
    }, 50);
    // Once the server has answered, a real client stops sending too.
    socket.once('data', () => clearInterval(timer));
    socket.once('close', () => clearInterval(timer));
  }

  it('intake: headers that never finish are answered 408 and the connection is closed', async () => {
    const socket = await tppSocket();
    const answer = closed(socket);
    socket.write('POST /register HTTP/1.1\r\nHost: localhost\r\n');
    dribble(socket, `X-Slow: ${'a'.repeat(10_000)}`);
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(socket.destroyed).toBe(true);
  }, SLOW_CLIENT_TEST_MS);

  it('intake: a body that trickles in is answered 408 and the connection is closed', async () => {
    const socket = await tppSocket();
    const answer = closed(socket);
    socket.write('POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/jwt\r\nContent-Length: 10000\r\n\r\n');
    dribble(socket, 'e'.repeat(10_000));
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(socket.destroyed).toBe(true);
  }, SLOW_CLIENT_TEST_MS);

  it('admin listener: slow headers and slow bodies are closed too', async () => {
    for (const head of ['GET /admin/summary HTTP/1.1\r\nHost: localhost\r\n', 'POST /admin/replay HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer admin-token-0123456789abcdef\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n']) {
      const socket = netConnect({ host: '127.0.0.1', port: ops.port });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const answer = closed(socket);
      socket.write(head);
      dribble(socket, head.startsWith('GET') ? `X-Slow: ${'a'.repeat(5_000)}` : '{'.repeat(5_000));
      expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(socket.destroyed).toBe(true);
    }
  }, SLOW_CLIENT_TEST_MS);
});

const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

describe.each(adapterSets)('the data directory is private, %s', (name, infraUrls) => {
  const skip = infraUrls === null;
  let dataDir: string;
  let pipeline: TestPipeline;

  beforeAll(async () => {
    if (skip) return;
    // An existing, world-readable directory with a world-readable file in it (an older release, a careless mkdir).
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-modes-'));
    await chmod(dataDir, 0o755);
    await mkdir(join(dataDir, 'exports'), { mode: 0o755 });
    await writeFile(join(dataDir, 'exports', 'old.json'), '{}', { mode: 0o644 });
    await chmod(join(dataDir, 'exports', 'old.json'), 0o644);
    pipeline = await startTestPipeline({ ...(infraUrls ? { infra: infraUrls } : {}), env: { DCR_DATA_DIR: dataDir } });
  });
  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const mode = async (path: string) => (await stat(path)).mode & 0o777;

  it.skipIf(skip)('0700 for the directory and 0600 for its files, after a registration wrote to them', async () => {
    const tpp = await pipeline.createTpp('modes');
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status).toBe(201);

    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(join(dataDir, 'exports'))).toBe(0o700);
    expect(await mode(join(dataDir, 'exports', 'old.json'))).toBe(0o600);
    expect(await mode(join(dataDir, 'keys'))).toBe(0o700);
    expect(await mode(join(dataDir, 'keys', 'token-sealing.key'))).toBe(0o600);
    if (name === 'embedded') {
      for (const file of ['dcr.sqlite', 'dcr.sqlite-wal', 'dcr.sqlite-shm']) expect(await mode(join(dataDir, file))).toBe(0o600);
    }
  });
});
