/**
 * A small TCP proxy for fault injection (no root needed): it listens on 127.0.0.1 and forwards every
 * connection to one of its targets (round robin over several: a layer-4 load balancer). Its mode
 * decides what the link does:
 *   - `pass`: bytes flow both ways (after `latencyMs` per chunk, when set: a slow link, order kept);
 *   - `blackhole`: connections are accepted and held; no byte moves either way (what a client sees
 *     during a network partition: writes vanish, no answer, no reset). Bytes sent meanwhile are kept
 *     and delivered when the link heals (`pass` again): a partition that heals mid-write; a new
 *     connection accepted meanwhile reaches its target only then;
 *   - `reset`: every open connection is reset (RST) at once and new ones are reset on accept.
 * A target that refuses the connection is skipped for the next one (each is tried once per connection);
 * bytes the client sent meanwhile are kept, so nothing is lost by the retry.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'reset';

export interface ProxyTarget {
  host?: string;
  port: number;
}

export interface ProxyStats {
  /** connections accepted */
  accepted: number;
  /** connections reset by `reset` mode */
  reset: number;
  /** bytes forwarded client → target and target → client */
  bytesUp: number;
  bytesDown: number;
  /** connection attempts a target refused (another one was tried) */
  refused: number;
}

interface Chunk {
  data: Buffer;
  /** when it may leave (latency) */
  due: number;
}

/** One direction of a connection: chunks wait here while the link is held or slow. */
class Lane {
  readonly queue: Chunk[] = [];
  #timer: NodeJS.Timeout | undefined;
  queuedBytes = 0;

  constructor(
    private readonly proxy: TcpProxy,
    private readonly src: Socket,
    private readonly dst: () => Socket | undefined,
    private readonly count: (n: number) => void,
  ) {}

  push(data: Buffer): void {
    this.queue.push({ data, due: Date.now() + this.proxy.latencyMs + Math.random() * this.proxy.jitterMs });
    this.queuedBytes += data.length;
    if (this.queuedBytes > 4 * 1024 * 1024) this.src.pause();
    this.flush();
  }

  flush(): void {
    if (this.#timer) return;
    const dst = this.dst();
    while (this.queue.length > 0 && this.proxy.mode === 'pass' && dst && !dst.destroyed && !dst.connecting) {
      const head = this.queue[0] as Chunk;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.flush();
        }, wait);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.data.length;
      this.count(head.data.length);
      dst.write(head.data);
    }
    if (this.queuedBytes <= 1024 * 1024 && this.src.isPaused()) this.src.resume();
  }

  /** The link healed after a hold: what waited leaves now (its latency counted from now). */
  release(): void {
    const now = Date.now();
    for (const c of this.queue) c.due = Math.max(c.due, now + this.proxy.latencyMs);
    this.flush();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

class Link {
  upstream: Socket | undefined;
  readonly up: Lane;
  readonly down: Lane;
  closed = false;

  constructor(
    private readonly proxy: TcpProxy,
    readonly client: Socket,
  ) {
    this.up = new Lane(proxy, client, () => this.upstream, (n) => (proxy.stats.bytesUp += n));
    this.down = new Lane(proxy, client, () => this.client, (n) => (proxy.stats.bytesDown += n));
    client.on('data', (d: Buffer) => this.up.push(d));
    client.on('end', () => this.#endWhenDrained(this.up, () => this.upstream));
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
  }

  /** Connects to a target (round robin; a refusing target is skipped, each tried once). */
  open(): void {
    if (this.closed || this.upstream) return;
    const targets = this.proxy.targets;
    const first = this.proxy.nextTarget();
    const attempt = (i: number) => {
      if (this.closed) return;
      const target = targets[(first + i) % targets.length] as ProxyTarget;
      const socket = connect({ host: target.host ?? '127.0.0.1', port: target.port });
      socket.setNoDelay(true);
      this.upstream = socket;
      let connected = false;
      socket.once('connect', () => {
        connected = true;
        this.up.flush();
      });
      socket.on('data', (d: Buffer) => this.down.push(d));
      socket.on('end', () => this.#endWhenDrained(this.down, () => this.client));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!connected && error.code === 'ECONNREFUSED' && i + 1 < targets.length && !this.closed) {
          this.proxy.stats.refused++;
          this.upstream = undefined;
          attempt(i + 1);
          return;
        }
        this.destroy();
      });
      socket.on('close', () => {
        if (this.upstream === socket) this.destroy();
      });
    };
    attempt(0);
  }

  #endWhenDrained(lane: Lane, dst: () => Socket | undefined): void {
    const check = () => {
      if (this.closed) return;
      if (lane.queue.length === 0) dst()?.end();
      else setTimeout(check, 20);
    };
    check();
  }

  heal(): void {
    this.open();
    this.up.release();
    this.down.release();
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.stop();
    this.down.stop();
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.proxy.forget(this);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.stop();
    this.down.stop();
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

export class TcpProxy {
  readonly name: string;
  readonly targets: ProxyTarget[];
  readonly stats: ProxyStats = { accepted: 0, reset: 0, bytesUp: 0, bytesDown: 0, refused: 0 };
  #mode: ProxyMode = 'pass';
  /** added to every chunk in both directions while in `pass` (a slow link) */
  latencyMs = 0;
  /** plus a random share of this per chunk (order is kept: a chunk never overtakes the one before) */
  jitterMs = 0;
  readonly #links = new Set<Link>();
  #next = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    name: string,
    targets: ProxyTarget[],
  ) {
    this.name = name;
    this.targets = targets;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port) and forwards to `targets`. */
  static async start(options: { name: string; targets: ProxyTarget[]; port?: number }): Promise<TcpProxy> {
    if (options.targets.length === 0) throw new Error(`${options.name}: a proxy needs a target`);
    let proxy: TcpProxy | undefined;
    const server = createServer({ noDelay: true }, (client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    proxy = new TcpProxy(server, port, options.name, [...options.targets]);
    return proxy;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Open connections (held ones included). */
  get connections(): number {
    return this.#links.size;
  }

  /** Bytes received and not yet forwarded (held by `blackhole`, or waiting out the latency). */
  get heldBytes(): number {
    let n = 0;
    for (const link of this.#links) n += link.up.queuedBytes + link.down.queuedBytes;
    return n;
  }

  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    if (mode === 'reset') {
      for (const link of [...this.#links]) {
        this.stats.reset++;
        link.reset();
      }
    } else if (mode === 'pass') {
      for (const link of this.#links) link.heal();
    }
  }

  /** @internal the target index for the next connection (round robin) */
  nextTarget(): number {
    const i = this.#next % this.targets.length;
    this.#next = (this.#next + 1) % this.targets.length;
    return i;
  }

  /** @internal */
  forget(link: Link): void {
    this.#links.delete(link);
  }

  accept(client: Socket): void {
    this.stats.accepted++;
    client.setNoDelay(true);
    if (this.#mode === 'reset') {
      this.stats.reset++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const link = new Link(this, client);
    this.#links.add(link);
    if (this.#mode === 'pass') link.open();
  }

  async close(): Promise<void> {
    for (const link of [...this.#links]) link.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
