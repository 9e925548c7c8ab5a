/**
 * The distributed pipeline under test: Kafka, mongo-java-server (H2 file backend: survives SIGKILL) and
 * redis-server (AOF, fsync always) from test/support/infra.ts, then the sandbox directory, intake,
 * verifier, revocation, provisioner (which runs the outbox relay) and ops, each its own Node process
 * (`node --import tsx services/<name>/main.ts`), with their output appended to `<workDir>/services/`.
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

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const WORKERS = ['verifier', 'revocation', 'provisioner'] as const;
export type WorkerName = (typeof WORKERS)[number];
export type ServiceName = 'directory-sandbox' | 'intake' | WorkerName | 'ops';
const START_ORDER: ServiceName[] = ['directory-sandbox', 'intake', 'verifier', 'revocation', 'provisioner', 'ops'];

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
}

export interface UnexpectedExit {
  service: ServiceName;
  at: string;
  code: number | null;
  signal: string | null;
  /** the last lines it wrote */
  tail: string;
}

interface Managed {
  name: ServiceName;
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
  readonly intakeOrigin: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly mongoUrl: string;
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly #services = new Map<ServiceName, Managed>();
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
    this.mongoUrl = init.env.DCR_MONGO_URL as string;
    this.#log = init.log;
    this.#logDir = init.logDir;
  }

  /** Starts the servers, then every service; resolves when the intake is ready and the topics exist. */
  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const { settings, workDir, log } = options;
    const t0 = Date.now();
    const infra = await startInfra({
      kafka: true,
      mongo: { backend: 'h2' },
      redis: { appendonly: true, appendfsync: 'always' },
      workDir: join(workDir, 'infra'),
      keepWorkDir: true,
      log: (l) => log(`infra: ${l}`),
    });
    let cluster: ChaosCluster | undefined;
    try {
      const namespace = `c${randomBytes(4).toString('hex')}`;
      const [sandboxPort, intakePort, adminPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
      const dataDir = join(workDir, 'data');
      mkdirSync(dataDir, { recursive: true });
      const adminToken = randomBytes(24).toString('base64url');
      const env: Record<string, string> = {
        ...distributedServiceEnv({ dataDir, namespace, sandboxPort, intakePort, infra }),
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
        intakeOrigin: `https://localhost:${intakePort}`,
        adminUrl: `http://127.0.0.1:${adminPort}`,
        adminToken,
        log,
        logDir,
      });
      await cluster.start('directory-sandbox');
      await Promise.all(START_ORDER.filter((s) => s !== 'directory-sandbox').map((s) => cluster!.start(s)));
      const admin = new Kafka({ brokers: (infra.kafkaBrokers ?? '').split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await until('topics created', async () => ((await admin.listTopics()).includes(`${namespace}.dcr.client.v1`) ? true : undefined), 120_000, () => cluster!.tails());
      } finally {
        await admin.disconnect();
      }
      log(`cluster up in ${Date.now() - t0} ms (namespace ${namespace}, work dir ${workDir})`);
      return cluster;
    } catch (error) {
      await cluster?.stop().catch(() => {});
      if (!cluster) await infra.stop().catch(() => {});
      throw error;
    }
  }

  service(name: ServiceName): { pid: number | undefined; starts: number; running: boolean } {
    const m = this.#services.get(name);
    return { pid: m?.child?.pid, starts: m?.starts ?? 0, running: m?.child !== undefined };
  }

  /** The pids of every process of the pipeline and the servers (for CPU/RSS figures). */
  processes(): { name: string; pid: number }[] {
    const out: { name: string; pid: number }[] = [];
    for (const [name, m] of this.#services) if (m.child?.pid) out.push({ name, pid: m.child.pid });
    for (const s of this.infra.servers) if (s.pid) out.push({ name: s.name, pid: s.pid });
    return out;
  }

  tails(): string {
    return [...this.#services.values()].map((m) => `[${m.name}] ${m.tail.slice(-8).join('')}`).join('\n');
  }

  /** Spawns the service (if not running) and resolves once it is ready; returns the ms it took. */
  async start(name: ServiceName, timeoutMs = 90_000): Promise<number> {
    const t = Date.now();
    let m = this.#services.get(name);
    if (!m) {
      m = { name, child: undefined, expectedExit: false, starts: 0, log: createWriteStream(join(this.#logDir, `${name}.log`), { flags: 'a' }), tail: [], readyLine: false };
      this.#services.set(name, m);
    }
    if (!m.child) this.#spawn(m);
    await this.#ready(m, timeoutMs);
    return Date.now() - t;
  }

  #spawn(m: Managed): void {
    const worker = (WORKERS as readonly string[]).includes(m.name);
    // Workers log at info for their one "<name> started" line (stage runners log nothing per job below warn).
    const env = { ...process.env, ...this.env, ...(worker ? { DCR_LOG_LEVEL: 'info' } : {}) };
    const child = spawn(process.execPath, ['--import', 'tsx', ...sandboxServiceArgs(m.name)], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    m.starts++;
    m.expectedExit = false;
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
      const exit: UnexpectedExit = { service: m.name, at: new Date().toISOString(), code, signal, tail: m.tail.slice(-10).join('').slice(-2000) };
      this.unexpectedExits.push(exit);
      this.#log(`UNEXPECTED EXIT of ${m.name} (code ${code}, signal ${signal}); restarting it. Last output:\n${exit.tail}`);
      if (this.unexpectedExits.length > 50) return; // a crash loop: stop restarting, the invariants will show it
      // a process manager's restart delay
      setTimeout(() => {
        if (!this.#stopping && !m.child) this.#spawn(m);
      }, 1000);
    });
  }

  async #ready(m: Managed, timeoutMs: number): Promise<void> {
    const context = () => `[${m.name}] ${m.tail.slice(-15).join('')}`;
    switch (m.name) {
      case 'directory-sandbox':
        await until('sandbox directory', async () => ((await httpsRequest(this.directory.directoryJwksUrl, { identity: { caPem: this.directory.caCertPem }, timeoutMs: 3000 })).status === 200 ? true : undefined), timeoutMs, context);
        return;
      case 'intake':
        await until('intake ready', async () => ((await httpsRequest(`${this.intakeOrigin}/health/ready`, { identity: { caPem: this.directory.caCertPem }, timeoutMs: 3000 })).status === 200 ? true : undefined), timeoutMs, context);
        return;
      case 'ops':
        await until('ops ready', async () => ((await httpGetStatus(`${this.adminUrl}/health/ready`)) === 200 ? true : undefined), timeoutMs, context);
        return;
      default:
        // a worker that dies while starting is restarted by the supervisor: wait for whichever child logs it
        await until(`${m.name} started`, async () => (m.child && m.readyLine ? true : undefined), timeoutMs, context);
    }
  }

  /** Kills the service on purpose (SIGKILL: a crash) and resolves once the process is gone. */
  async kill(name: ServiceName, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const m = this.#services.get(name);
    const child = m?.child;
    if (!m || !child) throw new Error(`${name} is not running`);
    m.expectedExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
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

  /** Stops every service (SIGTERM, SIGKILL after 10 s) and the servers. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#services.values()].map(async (m) => {
        const child = m.child;
        if (child) {
          m.expectedExit = true;
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        await new Promise<void>((r) => m.log.end(() => r()));
      }),
    );
    await this.infra.stop();
  }
}
