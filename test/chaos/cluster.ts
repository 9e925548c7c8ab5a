/**
 * The distributed pipeline under test: Kafka, mongo-java-server (H2 file backend: survives SIGKILL) and
 * redis-server (AOF, fsync always) from test/support/infra.ts, then the sandbox directory, `intakes`
 * intakes behind a round-robin TCP proxy (the load talks to the proxy), `instances` instances each of
 * the verifier, revocation and provisioner (every provisioner runs the outbox relay and the reconciler;
 * the store's leader lease lets one of them work at a time) and ops, each its own Node process
 * (`node --import tsx sandbox/service/main.ts <name>`), with their output appended to
 * `<workDir>/services/<instance>.log`. Instances are named `<service>-<n>` (`verifier-2`); the
 * directory and ops run once.
 *
 * Every link from the services to MongoDB, Redis, Kafka and the sandbox directory goes through a TCP
 * proxy of its own (testkit/tcp-proxy.ts: pass, blackhole, reset, added latency): `proxy(dep)`. Kafka
 * gets a second listener whose advertised address is its proxy, so that the brokers' metadata sends the
 * services back through it; the chaos harness itself (checks, fault probes) talks to the servers directly.
 *
 * Every service is supervised like a process manager would: one that exits without being told to is
 * recorded (an unexpected exit is a finding) and started again. `kill(name)` SIGKILLs a service on
 * purpose; `start(name)` brings it back and resolves once it is ready (intake and ops: their
 * `/health/ready` answers 200; workers: their "<name> started" log line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../platform/config/load.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { SandboxDirectory, sandboxTrust } from '../../sandbox/directory-sandbox/index.js';
import { startInfra, type Infra } from '../support/infra.js';
import { distributedServiceEnv } from '../support/distributed-env.js';
import { freeTcpPort } from '../../testkit/ports.js';
import { sandboxServiceArgs } from '../../testkit/service-entry.js';
import { TcpProxy } from '../../testkit/tcp-proxy.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const WORKERS = ['verifier', 'revocation', 'provisioner'] as const;
export type WorkerName = (typeof WORKERS)[number];
export type ServiceName = 'directory-sandbox' | 'intake' | WorkerName | 'ops';
/** A process of the cluster: `verifier-1`, `intake-2`, `ops`, `directory-sandbox`. */
export type InstanceId = string;
export type Dependency = 'mongo' | 'redis' | 'kafka' | 'directory';
export const DEPENDENCIES: readonly Dependency[] = ['mongo', 'redis', 'kafka', 'directory'];

export interface ClusterSettings {
  /** DCR_STAGE_ATTEMPTS */
  stageAttempts: number;
  /** DCR_RETRY_BASE_DELAY_MS */
  retryBaseDelayMs: number;
  /** DCR_SYNC_WAIT_MS: how long POST /register waits before answering 202 */
  syncWaitMs: number;
  /** DCR_WORKER_CONCURRENCY */
  workerConcurrency: number;
  /** DCR_FETCH_CACHE_MAX_AGE_SECONDS: short, so that a directory outage reaches the stages */
  fetchCacheMaxAgeSeconds: number;
  /** DCR_FETCH_TIMEOUT_MS (a slow directory answers after it) */
  fetchTimeoutMs: number;
  /** processes per worker stage */
  instances: Record<WorkerName, number>;
  /** intake processes behind the round-robin proxy */
  intakes: number;
  /** DCR_QUEUE_LEASE_MS: BullMQ's job lock; a paused worker loses its job after it */
  queueLeaseMs: number;
  /** DCR_RECONCILE_INTERVAL_MS / DCR_RECONCILE_AFTER_MS: short, so that a flushed queue is noticed in the run */
  reconcileIntervalMs: number;
  reconcileAfterMs: number;
}

export interface UnexpectedExit {
  service: InstanceId;
  at: string;
  code: number | null;
  signal: string | null;
  /** the last lines it wrote */
  tail: string;
}

interface Managed {
  /** the instance id (log file, figures) */
  id: InstanceId;
  name: ServiceName;
  /** environment of this instance on top of the cluster's (an intake's own port) */
  env: Record<string, string>;
  /** an intake's own origin (its readiness is checked there, not through the proxy) */
  origin?: string;
  /** SIGSTOPped right now */
  paused: boolean;
  child: ChildProcess | undefined;
  /** set while we stop it on purpose: its exit is not a finding */
  expectedExit: boolean;
  starts: number;
  log: WriteStream;
  tail: string[];
  /** the running child wrote its ready line (workers) */
  readyLine: boolean;
}

export interface ClusterOptions {
  settings: ClusterSettings;
  /** where infra data, service logs and the sandbox live */
  workDir: string;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** readiness timeout of each service's first start */
const FIRST_START_TIMEOUT_MS = 240_000;

/** Polls `probe` every 200 ms until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}\n${context()}`);
    await sleep(200);
  }
}

function httpGetStatus(url: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export class ChaosCluster {
  readonly infra: Infra;
  readonly env: Record<string, string>;
  readonly directory: SandboxDirectory;
  readonly namespace: string;
  /** the round-robin proxy in front of the intakes: what the load talks to */
  readonly intakeOrigin: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  /** direct links to the servers, for the harness (the services go through the proxies) */
  readonly mongoUrl: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: string;
  readonly settings: ClusterSettings;
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly #services = new Map<InstanceId, Managed>();
  readonly #proxies: Map<Dependency | 'intake', TcpProxy>;
  readonly #log: (line: string) => void;
  readonly #logDir: string;
  #stopping = false;

  private constructor(init: {
    infra: Infra;
    env: Record<string, string>;
    directory: SandboxDirectory;
    namespace: string;
    intakeOrigin: string;
    adminUrl: string;
    adminToken: string;
    mongoUrl: string;
    settings: ClusterSettings;
    proxies: Map<Dependency | 'intake', TcpProxy>;
    log: (line: string) => void;
    logDir: string;
  }) {
    this.infra = init.infra;
    this.env = init.env;
    this.directory = init.directory;
    this.namespace = init.namespace;
    this.intakeOrigin = init.intakeOrigin;
    this.adminUrl = init.adminUrl;
    this.adminToken = init.adminToken;
    this.mongoUrl = init.mongoUrl;
    this.redisUrl = init.infra.redisUrl ?? '';
    this.kafkaBrokers = init.infra.kafkaBrokers ?? '';
    this.settings = init.settings;
    this.#proxies = init.proxies;
    this.#log = init.log;
    this.#logDir = init.logDir;
  }

  /** Starts the servers, the proxies, then every service; resolves when the intakes are ready and the topics exist. */
  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const { settings, workDir, log } = options;
    const t0 = Date.now();
    const proxies = new Map<Dependency | 'intake', TcpProxy>();
    // Kafka's proxied listener and its proxy's port are known before Kafka starts (it advertises the proxy).
    const [kafkaProxiedPort, kafkaProxyPort] = [await freeTcpPort(), await freeTcpPort()];
    const infra = await startInfra({
      kafka: { proxiedListener: { port: kafkaProxiedPort, advertisedPort: kafkaProxyPort } },
      mongo: { backend: 'h2' },
      redis: { appendonly: true, appendfsync: 'always' },
      workDir: join(workDir, 'infra'),
      keepWorkDir: true,
      log: (l) => log(`infra: ${l}`),
    });
    let cluster: ChaosCluster | undefined;
    try {
      const namespace = `c${randomBytes(4).toString('hex')}`;
      const [sandboxPort, adminPort] = [await freeTcpPort(), await freeTcpPort()];
      const intakePorts: number[] = [];
      for (let i = 0; i < Math.max(1, settings.intakes); i++) intakePorts.push(await freeTcpPort());
      proxies.set('kafka', await TcpProxy.start({ name: 'kafka', port: kafkaProxyPort, targets: [{ port: kafkaProxiedPort }] }));
      proxies.set('mongo', await TcpProxy.start({ name: 'mongo', targets: [{ port: infra.server('mongo').port }] }));
      proxies.set('redis', await TcpProxy.start({ name: 'redis', targets: [{ port: infra.server('redis').port }] }));
      proxies.set('directory', await TcpProxy.start({ name: 'directory', targets: [{ port: sandboxPort }] }));
      const intakeProxy = await TcpProxy.start({ name: 'intake', targets: intakePorts.map((port) => ({ port })) });
      proxies.set('intake', intakeProxy);
      const dataDir = join(workDir, 'data');
      mkdirSync(dataDir, { recursive: true });
      const adminToken = randomBytes(24).toString('base64url');
      const proxied = {
        mongoUrl: `mongodb://127.0.0.1:${proxies.get('mongo')!.port}`,
        redisUrl: `redis://127.0.0.1:${proxies.get('redis')!.port}`,
        kafkaBrokers: `127.0.0.1:${kafkaProxyPort}`,
      };
      const env: Record<string, string> = {
        ...distributedServiceEnv({ dataDir, namespace, sandboxPort: proxies.get('directory')!.port, intakePort: intakeProxy.port, infra: proxied }),
        // the directory listens on its own port; every URL names its proxy
        DCR_SANDBOX_PORT: String(sandboxPort),
        DCR_ADMIN_HOST: '127.0.0.1',
        DCR_ADMIN_PORT: String(adminPort),
        DCR_ADMIN_TOKEN: adminToken,
        // One key for every process (generated per process it would race on first start).
        DCR_TOKEN_SEALING_KEY: randomBytes(32).toString('base64'),
        DCR_SYNC_WAIT_MS: String(settings.syncWaitMs),
        DCR_STAGE_ATTEMPTS: String(settings.stageAttempts),
        DCR_RETRY_BASE_DELAY_MS: String(settings.retryBaseDelayMs),
        DCR_WORKER_CONCURRENCY: String(settings.workerConcurrency),
        DCR_FETCH_CACHE_MAX_AGE_SECONDS: String(settings.fetchCacheMaxAgeSeconds),
        DCR_FETCH_TIMEOUT_MS: String(settings.fetchTimeoutMs),
        DCR_QUEUE_LEASE_MS: String(settings.queueLeaseMs),
        DCR_RECONCILE_INTERVAL_MS: String(settings.reconcileIntervalMs),
        DCR_RECONCILE_AFTER_MS: String(settings.reconcileAfterMs),
        // Many registrations from few TPPs: the per-TPP limit and load shedding are not what is tested here.
        DCR_RATE_LIMIT_PER_MINUTE: '0',
        DCR_MAX_EVENT_LOOP_DELAY_MS: '0',
        DCR_LOG_LEVEL: 'warn',
      };
      // The sandbox material (CA, intake server certificate) is created once here, before any service starts.
      await sandboxTrust(loadConfig(env, { sandboxByDefault: true }));
      const directory = await SandboxDirectory.open({ dataDir, baseUrl: env.DCR_SANDBOX_BASE_URL as string });
      const logDir = join(workDir, 'services');
      mkdirSync(logDir, { recursive: true });
      cluster = new ChaosCluster({
        infra,
        env,
        directory,
        namespace,
        intakeOrigin: `https://localhost:${intakeProxy.port}`,
        adminUrl: `http://127.0.0.1:${adminPort}`,
        adminToken,
        mongoUrl: `${(infra.mongoUrl ?? '').replace(/\/$/, '')}/dcr_${namespace}`,
        settings,
        proxies,
        log,
        logDir,
      });
      const c = cluster;
      c.#define('directory-sandbox', 'directory-sandbox');
      intakePorts.forEach((port, i) => c.#define(`intake-${i + 1}`, 'intake', { DCR_HTTPS_PORT: String(port) }, `https://localhost:${port}`));
      for (const w of WORKERS) for (let i = 1; i <= Math.max(1, settings.instances[w]); i++) c.#define(`${w}-${i}`, w);
      c.#define('ops', 'ops');
      await c.start('directory-sandbox', FIRST_START_TIMEOUT_MS);
      // Two at a time: a dozen Node processes compiling their sources at once on a shared 2-core machine
      // starved each other past the readiness timeout.
      const rest = [...c.#services.keys()].filter((s) => s !== 'directory-sandbox');
      await Promise.all(
        [0, 1].map(async () => {
          for (let id = rest.shift(); id !== undefined; id = rest.shift()) await c.start(id, FIRST_START_TIMEOUT_MS);
        }),
      );
      const admin = new Kafka({ brokers: c.kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await until('topics created', async () => ((await admin.listTopics()).includes(`${namespace}.dcr.client.v1`) ? true : undefined), 120_000, () => c.tails());
      } finally {
        await admin.disconnect();
      }
      log(`cluster up in ${Date.now() - t0} ms (namespace ${namespace}, ${c.#services.size} processes, work dir ${workDir})`);
      return cluster;
    } catch (error) {
      await cluster?.stop().catch(() => {});
      if (!cluster) {
        for (const p of proxies.values()) await p.close().catch(() => {});
        await infra.stop().catch(() => {});
      }
      throw error;
    }
  }

  #define(id: InstanceId, name: ServiceName, env: Record<string, string> = {}, origin?: string): void {
    this.#services.set(id, {
      id,
      name,
      env,
      ...(origin ? { origin } : {}),
      paused: false,
      child: undefined,
      expectedExit: false,
      starts: 0,
      log: createWriteStream(join(this.#logDir, `${id}.log`), { flags: 'a' }),
      tail: [],
      readyLine: false,
    });
  }

  /** The instances of a service, in order (`verifier-1`, `verifier-2`). */
  instancesOf(name: ServiceName): InstanceId[] {
    return [...this.#services.values()].filter((m) => m.name === name).map((m) => m.id);
  }

  /** The proxy in front of a dependency (or of the intakes). */
  proxy(dep: Dependency | 'intake'): TcpProxy {
    const p = this.#proxies.get(dep);
    if (!p) throw new Error(`no proxy for ${dep}`);
    return p;
  }

  service(id: InstanceId): { pid: number | undefined; starts: number; running: boolean; paused: boolean } {
    const m = this.#services.get(id);
    return { pid: m?.child?.pid, starts: m?.starts ?? 0, running: m?.child !== undefined, paused: m?.paused ?? false };
  }

  /** What the instance's stage history entries name it (`worker`: service@host:pid), while it runs. */
  identity(id: InstanceId): string | undefined {
    const m = this.#services.get(id);
    return m?.child?.pid ? `${m.name}@${hostname()}:${m.child.pid}` : undefined;
  }

  /** The pids of every process of the pipeline and the servers (for CPU/RSS figures). */
  processes(): { name: string; pid: number }[] {
    const out: { name: string; pid: number }[] = [];
    for (const [id, m] of this.#services) if (m.child?.pid) out.push({ name: id, pid: m.child.pid });
    for (const s of this.infra.servers) if (s.pid) out.push({ name: s.name, pid: s.pid });
    return out;
  }

  tails(): string {
    return [...this.#services.values()].map((m) => `[${m.id}] ${m.tail.slice(-8).join('')}`).join('\n');
  }

  /** Spawns the instance (if not running) and resolves once it is ready; returns the ms it took. */
  async start(id: InstanceId, timeoutMs = 90_000): Promise<number> {
    const t = Date.now();
    const m = this.#services.get(id);
    if (!m) throw new Error(`no such instance: ${id}`);
    if (!m.child) this.#spawn(m);
    await this.#ready(m, timeoutMs);
    return Date.now() - t;
  }

  #spawn(m: Managed): void {
    const worker = (WORKERS as readonly string[]).includes(m.name);
    // Workers log at info for their one "<name> started" line (stage runners log nothing per job below warn).
    const env = { ...process.env, ...this.env, ...m.env, ...(worker ? { DCR_LOG_LEVEL: 'info' } : {}) };
    const child = spawn(process.execPath, ['--import', 'tsx', ...sandboxServiceArgs(m.name)], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    m.starts++;
    m.expectedExit = false;
    m.paused = false;
    m.log.write(`\n=== ${new Date().toISOString()} start #${m.starts} pid ${child.pid} ===\n`);
    m.readyLine = false;
    const marker = `"msg":"${m.name} started"`;
    const onData = (d: Buffer) => {
      const text = d.toString();
      m.log.write(text);
      m.tail.push(text);
      if (m.tail.length > 40) m.tail.shift();
      if (worker && m.child === child && text.includes(marker)) m.readyLine = true;
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      m.log.write(`=== ${new Date().toISOString()} exited (code ${code}, signal ${signal}) ===\n`);
      if (m.child === child) m.child = undefined;
      if (m.expectedExit || this.#stopping) return;
      const exit: UnexpectedExit = { service: m.id, at: new Date().toISOString(), code, signal, tail: m.tail.slice(-10).join('').slice(-2000) };
      this.unexpectedExits.push(exit);
      this.#log(`UNEXPECTED EXIT of ${m.id} (code ${code}, signal ${signal}); restarting it. Last output:\n${exit.tail}`);
      if (this.unexpectedExits.length > 50) return; // a crash loop: stop restarting, the invariants will show it
      // a process manager's restart delay
      setTimeout(() => {
        if (!this.#stopping && !m.child) this.#spawn(m);
      }, 1000);
    });
  }

  async #ready(m: Managed, timeoutMs: number): Promise<void> {
    const context = () => `[${m.id}] ${m.tail.slice(-15).join('')}`;
    switch (m.name) {
      case 'directory-sandbox':
        await until('sandbox directory', async () => ((await httpsRequest(this.directory.directoryJwksUrl, { identity: { caPem: this.directory.caCertPem }, timeoutMs: 3000 })).status === 200 ? true : undefined), timeoutMs, context);
        return;
      case 'intake':
        await until(`${m.id} ready`, async () => ((await httpsRequest(`${m.origin ?? this.intakeOrigin}/health/ready`, { identity: { caPem: this.directory.caCertPem }, timeoutMs: 3000 })).status === 200 ? true : undefined), timeoutMs, context);
        return;
      case 'ops':
        await until('ops ready', async () => ((await httpGetStatus(`${this.adminUrl}/health/ready`)) === 200 ? true : undefined), timeoutMs, context);
        return;
      default:
        // a worker that dies while starting is restarted by the supervisor: wait for whichever child logs it
        await until(`${m.id} started`, async () => (m.child && m.readyLine ? true : undefined), timeoutMs, context);
    }
  }

  /** Kills the instance on purpose (SIGKILL: a crash) and resolves once the process is gone. */
  async kill(id: InstanceId, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const m = this.#services.get(id);
    const child = m?.child;
    if (!m || !child) throw new Error(`${id} is not running`);
    m.expectedExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP: the process keeps its sockets and locks but runs nothing (a GC pause, a frozen VM). */
  pause(id: InstanceId): void {
    const m = this.#services.get(id);
    if (!m?.child?.pid) throw new Error(`${id} is not running`);
    process.kill(m.child.pid, 'SIGSTOP');
    m.paused = true;
  }

  /** SIGCONT after {@link pause}. */
  resume(id: InstanceId): void {
    const m = this.#services.get(id);
    if (!m?.child?.pid) throw new Error(`${id} is not running`);
    process.kill(m.child.pid, 'SIGCONT');
    m.paused = false;
  }

  /** Admin API call (JSON), with the admin token. */
  async admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest(
        `${this.adminUrl}${path}`,
        {
          method,
          timeout: 600_000,
          headers: {
            authorization: `Bearer ${this.adminToken}`,
            'x-actor': 'chaos-suite',
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`admin ${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
            else resolve(JSON.parse(text) as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Warn/error lines the services wrote (pino JSON, level ≥ 40), counted by service and message. */
  logSummary(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const name of this.#services.keys()) {
      let text = '';
      try {
        text = readFileSync(join(this.#logDir, `${name}.log`), 'utf8');
      } catch {
        continue;
      }
      const counts: Record<string, number> = {};
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string };
          if ((entry.level ?? 0) >= 40) counts[entry.msg ?? '?'] = (counts[entry.msg ?? '?'] ?? 0) + 1;
        } catch {
          /* not JSON */
        }
      }
      if (Object.keys(counts).length) out[name] = counts;
    }
    return out;
  }

  /** Stops every service (SIGTERM, SIGKILL after 10 s), the proxies and the servers. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const p of this.#proxies.values()) p.setMode('pass');
    await Promise.all(
      [...this.#services.values()].map(async (m) => {
        const child = m.child;
        if (child) {
          m.expectedExit = true;
          if (m.paused && child.pid) process.kill(child.pid, 'SIGCONT');
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        await new Promise<void>((r) => m.log.end(() => r()));
      }),
    );
    for (const p of this.#proxies.values()) await p.close().catch(() => {});
    await this.infra.stop();
  }
}
