/**
 * The chaos suite's TCP proxy (testkit/tcp-proxy.ts) against real TCP servers on 127.0.0.1: pass,
 * latency, blackhole (held, nothing delivered, then healed mid-write), reset, round robin with a
 * refusing target skipped.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpProxy } from '../../testkit/tcp-proxy.js';

interface Echo {
  server: Server;
  port: number;
  /** bytes the server received */
  received: number;
  connections: number;
}

/** A server answering `<tag>:<what it got>` to every chunk. */
async function echoServer(tag: string): Promise<Echo> {
  const echo: Echo = { server: createServer(), port: 0, received: 0, connections: 0 };
  echo.server.on('connection', (s) => {
    echo.connections++;
    s.on('data', (d: Buffer) => {
      echo.received += d.length;
      s.write(`${tag}:${d.toString()}`);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => echo.server.listen(0, '127.0.0.1', () => r()));
  const a = echo.server.address();
  echo.port = typeof a === 'object' && a ? a.port : 0;
  return echo;
}

function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the socket received once it contains `expected`. */
function receive(s: Socket, expected: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes(expected)) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((r) => setImmediate(r));
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(tags: string[]): Promise<{ proxy: TcpProxy; echoes: Echo[] }> {
  const echoes = await Promise.all(tags.map(echoServer));
  for (const e of echoes) cleanup.push(() => new Promise<void>((r) => e.server.close(() => r())));
  const proxy = await TcpProxy.start({ name: 'test', targets: echoes.map((e) => ({ port: e.port })) });
  cleanup.push(() => proxy.close());
  return { proxy, echoes };
}

describe('TcpProxy', () => {
  it('pass: forwards both ways, also with added latency per chunk', async () => {
    const { proxy, echoes } = await setup(['a']);
    const s = await client(proxy.port);
    cleanup.push(() => void s.destroy());
    const got = receive(s, 'a:hello');
    s.write('hello');
    expect(await got).toBe('a:hello');
    proxy.latencyMs = 30;
    const slow = receive(s, 'a:slow');
    s.write('slow');
    expect(await slow).toBe('a:slow');
    expect(echoes[0]?.received).toBe(9);
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesUp: 9, bytesDown: 13 });
  });

  it('blackhole: holds open and new connections with no byte delivered, and delivers what was written once healed', async () => {
    const { proxy, echoes } = await setup(['a']);
    const open = await client(proxy.port);
    cleanup.push(() => void open.destroy());
    const first = receive(open, 'a:before');
    open.write('before');
    await first;
    proxy.setMode('blackhole');
    const held = receive(open, 'a:mid-write');
    open.write('mid-write');
    const fresh = await client(proxy.port); // accepted, no target connection yet
    cleanup.push(() => void fresh.destroy());
    const freshAnswer = receive(fresh, 'a:new');
    fresh.write('new');
    await until(() => proxy.heldBytes === 'mid-write'.length + 'new'.length);
    expect(echoes[0]?.received).toBe('before'.length);
    expect(echoes[0]?.connections).toBe(1);
    proxy.setMode('pass');
    expect(await held).toBe('a:mid-write');
    expect(await freshAnswer).toBe('a:new');
    expect(echoes[0]?.connections).toBe(2);
    expect(proxy.heldBytes).toBe(0);
  });

  it('reset: resets open connections and every new one', async () => {
    const { proxy } = await setup(['a']);
    const s = await client(proxy.port);
    const got = receive(s, 'a:x');
    s.write('x');
    await got;
    const closed = new Promise<string | undefined>((r) => s.once('error', (e: NodeJS.ErrnoException) => r(e.code)));
    proxy.setMode('reset');
    expect(await closed).toBe('ECONNRESET');
    const next = await new Promise<string | undefined>((resolve) => {
      const c = connect({ host: '127.0.0.1', port: proxy.port });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      c.on('close', () => resolve('closed'));
    });
    expect(next).toBe('ECONNRESET');
    expect(proxy.stats.reset).toBe(2);
    proxy.setMode('pass');
    const again = await client(proxy.port);
    cleanup.push(() => void again.destroy());
    const answer = receive(again, 'a:back');
    again.write('back');
    expect(await answer).toBe('a:back');
  });

  it('round robin over targets, skipping one that refuses without losing the bytes sent', async () => {
    const { proxy, echoes } = await setup(['a', 'b']);
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await client(proxy.port);
      const got = receive(s, `:${i}`);
      s.write(String(i));
      answers.push(await got);
      s.destroy();
    }
    expect(answers).toEqual(['a:0', 'b:1', 'a:2', 'b:3']);
    await new Promise<void>((r) => echoes[1]?.server.close(() => r()));
    const s = await client(proxy.port); // a
    const t = await client(proxy.port); // b refuses → a
    cleanup.push(() => void s.destroy(), () => void t.destroy());
    const [gs, gt] = [receive(s, 'a:5'), receive(t, 'a:6')];
    s.write('5');
    t.write('6');
    expect([await gs, await gt]).toEqual(['a:5', 'a:6']);
    expect(proxy.stats.refused).toBe(1);
  });
});
