/**
 * Real infrastructure for integration and chaos tests and the local distributed mode (npm run
 * start:distributed): Apache Kafka (KRaft, single combined node),
 * mongo-java-server (in-memory or H2 file backend) and a private redis-server, each on FREE ports on
 * 127.0.0.1 (never 6379/9092/27017), with readiness checks through the real clients, restart on the same
 * port and data directory, and teardown.
 *
 *   const infra = await startInfra({ kafka: true, mongo: { backend: 'h2' }, redis: { appendonly: true } });
 *   infra.kafkaBrokers  // '127.0.0.1:41234'
 *   await infra.redis!.stop('SIGKILL'); await infra.redis!.start();
 *   await infra.stop();
 *
 * Jars come from `.cache/infra` (testkit/fetch.ts; fetched on demand when missing). Each server logs
 * to `<workDir>/logs/<name>.log`; its data lives in `<workDir>/<name>/`. Children are killed when this
 * process exits, and a tiny watchdog shell kills them if this process dies without running exit handlers
 * (SIGKILL, OOM), so no JVM outlives the test runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpsGet } from 'node:https';
import { createServer, connect as netConnect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { ensureMongoLauncher, fetchInfra, fetchKeycloak, infraPaths, isFetched, isKeycloakFetched, keycloakPaths, REPO_ROOT } from './fetch.js';
import { SandboxDirectory, SANDBOX_FILES } from '../sandbox/directory-sandbox/index.js';

export type ServerName = 'kafka' | 'mongo' | 'redis' | 'keycloak';
export type StopSignal = 'SIGTERM' | 'SIGKILL';

export interface KafkaOptions {
  /** JVM heap flags; default ['-Xmx512m', '-Xms256m'] */
  heap?: string[];
  /** extra JVM flags, after the defaults (which include -XX:TieredStopAtLevel=1; a later flag wins) */
  jvmArgs?: string[];
  /** extra/overriding server.properties entries */
  properties?: Record<string, string | number | boolean>;
  /**
   * A second client listener (`PROXIED`) on `port` that advertises `advertisedPort` instead: clients that
   * bootstrap there are told to reach the broker at `advertisedPort` (a TCP proxy in front of `port`), while
   * the main listener keeps advertising itself. The chaos cluster puts its fault-injecting proxy there.
   */
  proxiedListener?: { port: number; advertisedPort: number };
}
export interface MongoOptions {
  /** 'memory' (default; lost on restart) or 'h2' (an MVStore file in the work dir; survives restarts, even SIGKILL) */
  backend: 'memory' | 'h2';
  /** enable mongo-java-server's oplog (needed for change streams) */
  oplog?: boolean;
}
export interface RedisOptions {
  /** append-only file on (restart tests) or off (default; faster) */
  appendonly: boolean;
  /**
   * with appendonly: 'always' (default) writes and fsyncs before replying, so every acknowledged write
   * survives a SIGKILL; 'everysec' may lose the last ~2 s (Redis postpones the write while an fsync runs)
   */
  appendfsync?: 'always' | 'everysec' | 'no';
}

/**
 * Keycloak (`start --optimized` of the distribution built by testkit/fetch.ts) on HTTPS with a
 * server certificate from a test CA of its own (a sandbox directory CA under `<workDir>/keycloak/directory`),
 * mutual TLS requested and trusting that CA: a test pipeline that adopts the CA (`startTestPipeline({
 * directoryCa })`) issues TPP certificates Keycloak accepts. H2 database in the run's work dir.
 */
export interface KeycloakInfraOptions {
  /** bootstrap admin of the master realm; default admin / a random password */
  adminUsername?: string;
  adminPassword?: string;
  /** JVM heap flags; default ['-Xms64m', '-Xmx512m'] (Keycloak's own default) */
  heap?: string[];
  /**
   * An existing sandbox directory's DCR_DATA_DIR (e.g. `var` of `npm start`): Keycloak's server certificate
   * comes from its CA and Keycloak trusts its TPPs. Default: a CA of the run's own.
   */
  directoryDataDir?: string;
}

/** What a test needs of the running Keycloak. */
export interface KeycloakInfo {
  /** https://localhost:<port> (the server certificate names localhost and 127.0.0.1) */
  url: string;
  adminUsername: string;
  adminPassword: string;
  /** the test CA: Keycloak's server certificate and the TPP client certificates it trusts */
  caCertFile: string;
  caKeyFile: string;
}

export interface InfraOptions {
  kafka?: boolean | KafkaOptions;
  keycloak?: boolean | KeycloakInfraOptions;
  mongo?: boolean | MongoOptions;
  redis?: boolean | RedisOptions;
  /** where logs and data go; default `<repo>/.cache/infra/run/<time>-<pid>` (removed by stop() unless keepWorkDir) */
  workDir?: string;
  /** keep the work dir after stop() (always kept when the start fails); env DCR_INFRA_KEEP=1 does the same */
  keepWorkDir?: boolean;
  /** progress lines (ports, start-up times); default: silent */
  log?: (line: string) => void;
  /** readiness timeout per server; defaults: kafka 120 s, mongo 60 s, redis 30 s, keycloak 300 s */
  startTimeoutMs?: Partial<Record<ServerName, number>>;
  /** run testkit/fetch.ts when the jars are missing (default true) */
  autoFetch?: boolean;
}

export interface RunningServer {
  readonly name: ServerName;
  readonly host: '127.0.0.1';
  /** the client port; the same after restarts */
  readonly port: number;
  /** mongodb://…, redis://…, or host:port for Kafka */
  readonly url: string;
  /** stdout+stderr of the server (all starts appended) */
  readonly logFile: string;
  /** data directory, kept across stop()/start() */
  readonly dataDir: string;
  /** pid of the server process while it runs */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** wall-clock ms from spawn to readiness of the last start() */
  readonly lastStartMs: number | undefined;
  /** (re)start on the SAME port and data dir; resolves once ready. No-op when running. */
  start(): Promise<void>;
  /** SIGTERM (graceful; SIGKILL after a grace period) or SIGKILL (crash). Resolves once the process is gone. */
  stop(signal?: StopSignal): Promise<void>;
  /** stop(signal) then start() */
  restart(signal?: StopSignal): Promise<void>;
  /** SIGSTOP: the process freezes (connections stay open, nothing answers) — a hung server */
  pause(): void;
  /** SIGCONT after pause() */
  resume(): void;
  /** last lines of the log file */
  logTail(lines?: number): string;
}

export interface Infra {
  readonly workDir: string;
  mongoUrl?: string;
  redisUrl?: string;
  kafkaBrokers?: string;
  keycloakInfo?: KeycloakInfo;
  kafka?: RunningServer;
  keycloak?: RunningServer;
  mongo?: RunningServer;
  redis?: RunningServer;
  servers: RunningServer[];
  server(name: ServerName): RunningServer;
  /** stops all servers (SIGTERM, in parallel) and removes an auto-created work dir; idempotent */
  stop(): Promise<void>;
}

/** A server did not start or did not become ready. The message names it and ends with its log tail. */
export class InfraStartError extends Error {
  override name = 'InfraStartError';
  constructor(
    readonly server: ServerName,
    message: string,
    readonly logFile: string,
    readonly addressInUse = false,
  ) {
    super(message);
  }
}

const HOST = '127.0.0.1' as const;
const DEFAULT_PORTS = new Set([6379, 6380, 9092, 9093, 27017, 27018, 27019]);
const handedOut = new Set<number>();

/** A TCP port that is free on 127.0.0.1 right now (never a default port of Redis/Kafka/MongoDB). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((res, rej) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', rej);
      srv.listen(0, HOST, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => res(p));
      });
    });
    if (port > 0 && !DEFAULT_PORTS.has(port) && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free port found');
}

// ---------------------------------------------------------------------------------------------------------
// child process bookkeeping: kill on exit + watchdog for an abrupt death of this process

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        // SIGKILL: exit handlers are synchronous, nobody would wait for a graceful stop
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

const WATCHDOG = [
  'p="$1"; c="$2"',
  'while kill -0 "$p" 2>/dev/null; do kill -0 "$c" 2>/dev/null || exit 0; sleep 1; done',
  'kill -TERM "$c" 2>/dev/null || exit 0',
  'i=0; while [ "$i" -lt 20 ] && kill -0 "$c" 2>/dev/null; do sleep 0.5; i=$((i+1)); done',
  'kill -KILL "$c" 2>/dev/null; exit 0',
].join('\n');

/** A detached shell that stops `childPid` (TERM, then KILL) if this process dies without its exit handlers. */
export function spawnWatchdog(childPid: number): void {
  try {
    const w = spawn('/bin/sh', ['-c', WATCHDOG, 'dcr-infra-watchdog', String(process.pid), String(childPid)], {
      detached: true,
      stdio: 'ignore',
    });
    w.on('error', () => {});
    w.unref();
  } catch {
    /* best effort: the exit hook still covers normal exits */
  }
}

function readTail(file: string, lines = 60): string {
  try {
    const size = statSync(file).size;
    const len = Math.min(size, 64 * 1024);
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      const all = buf.toString('utf8').split('\n');
      if (all.at(-1) === '') all.pop();
      return all.slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

/** DCR_INFRA_DEBUG=1: readiness probe details on stderr */
function debug(line: string): void {
  if (process.env['DCR_INFRA_DEBUG'] === '1') process.stderr.write(`[infra:debug] ${line}\n`);
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./*-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** another server of the same startInfra() failed: this one was stopped without waiting for it */
class StartAborted extends Error {
  override name = 'StartAborted';
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------

interface LaunchSpec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

interface ServerSpec {
  name: ServerName;
  port: number;
  url: string;
  dataDir: string;
  logFile: string;
  readyTimeoutMs: number;
  /** graceful stop budget before SIGKILL */
  stopTimeoutMs: number;
  /** once, before the first launch (e.g. Kafka storage format) */
  prepare?: (log: (l: string) => void) => Promise<void>;
  launch: () => LaunchSpec;
  /** one readiness attempt; throws when not ready yet */
  probe: (remainingMs: number) => Promise<void>;
}

class ManagedServer implements RunningServer {
  readonly host = HOST;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private prepared = false;
  private _lastStartMs: number | undefined;
  private paused = false;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly spec: ServerSpec,
    private readonly log: (line: string) => void,
  ) {}

  get name(): ServerName {
    return this.spec.name;
  }
  get port(): number {
    return this.spec.port;
  }
  get url(): string {
    return this.spec.url;
  }
  get logFile(): string {
    return this.spec.logFile;
  }
  get dataDir(): string {
    return this.spec.dataDir;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined;
  }
  get lastStartMs(): number | undefined {
    return this._lastStartMs;
  }

  logTail(lines = 60): string {
    return readTail(this.spec.logFile, lines);
  }

  private fail(message: string): InfraStartError {
    const tail = this.logTail(60);
    const inUse = /address already in use|BindException|EADDRINUSE/i.test(tail);
    return new InfraStartError(
      this.name,
      `${this.name} (127.0.0.1:${this.port}) ${message}\n--- last lines of ${this.logFile} ---\n${tail}\n--- end of ${this.name} log ---`,
      this.logFile,
      inUse,
    );
  }

  start(): Promise<void> {
    return this.startUnless(() => undefined);
  }

  /** start(), giving up (SIGKILL, StartAborted) as soon as shouldAbort() returns a reason */
  startUnless(shouldAbort: () => string | undefined): Promise<void> {
    // concurrent callers share one start; a running server is left alone
    if (this.starting) return this.starting;
    if (this.child) return Promise.resolve();
    const starting = this.doStart(shouldAbort).finally(() => {
      if (this.starting === starting) this.starting = undefined;
    });
    this.starting = starting;
    return starting;
  }

  private async doStart(shouldAbort: () => string | undefined): Promise<void> {
    const started = Date.now();
    mkdirSync(this.spec.dataDir, { recursive: true });
    const logFd = openSync(this.spec.logFile, 'a');
    try {
      writeFileSync(logFd, `\n=== ${new Date().toISOString()} starting ${this.name} on 127.0.0.1:${this.port} ===\n`);
      if (!this.prepared && this.spec.prepare) {
        await this.spec.prepare(this.log);
      }
      this.prepared = true;
      const { cmd, args, env } = this.spec.launch();
      writeFileSync(logFd, `$ ${[cmd, ...args].map(shellQuote).join(' ')}\n`);
      const child = spawn(cmd, args, {
        cwd: this.spec.dataDir,
        env: { ...process.env, ...env },
        stdio: ['ignore', logFd, logFd],
        // own process group: a terminal's Ctrl-C reaches only us, and we stop the servers in order
        detached: true,
      });
      this.child = child;
      this.paused = false;
      liveChildren.add(child);
      installExitHook();
      let spawnError: Error | undefined;
      this.exited = new Promise<void>((res) => {
        child.on('error', (err) => {
          spawnError = err;
          liveChildren.delete(child);
          if (this.child === child) this.child = undefined;
          res();
        });
        child.on('exit', (code, signal) => {
          liveChildren.delete(child);
          if (this.child === child) this.child = undefined;
          try {
            writeFileSync(this.spec.logFile, `=== ${this.name} exited (code ${code}, signal ${signal}) ===\n`, { flag: 'a' });
          } catch {
            /* ignore */
          }
          res();
        });
      });
      if (child.pid !== undefined) spawnWatchdog(child.pid);

      // readiness
      const deadline = started + this.spec.readyTimeoutMs;
      let lastError = 'no readiness probe ran';
      let attempt = 0;
      for (;;) {
        const abortReason = shouldAbort();
        if (abortReason !== undefined) {
          await this.kill(child, 'SIGKILL');
          throw new StartAborted(`${this.name} start abandoned: ${abortReason}`);
        }
        if (spawnError) throw this.fail(`could not be started: ${spawnError.message}`);
        if (this.child !== child) throw this.fail(`exited before it became ready (last probe: ${lastError})`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          await this.kill(child, 'SIGKILL');
          throw this.fail(`did not become ready within ${this.spec.readyTimeoutMs} ms (last probe: ${lastError})`);
        }
        try {
          await this.spec.probe(remaining);
          break;
        } catch (err) {
          lastError = errMessage(err);
          debug(`${this.name} not ready yet: ${lastError}`);
        }
        await sleep(Math.min(200, 25 * 2 ** attempt++));
      }
      this._lastStartMs = Date.now() - started;
      this.log(`${this.name} ready on ${this.url} in ${this._lastStartMs} ms (pid ${child.pid}, log ${this.logFile})`);
    } catch (err) {
      if (this.child) await this.kill(this.child, 'SIGKILL');
      throw err instanceof InfraStartError || err instanceof StartAborted ? err : this.fail(`failed to start: ${errMessage(err)}`);
    } finally {
      closeSync(logFd);
    }
  }

  private async kill(child: ChildProcess, signal: StopSignal): Promise<void> {
    if (this.paused) {
      try {
        child.kill('SIGCONT');
      } catch {
        /* ignore */
      }
      this.paused = false;
    }
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
    await this.exited;
  }

  async stop(signal: StopSignal = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const t = Date.now();
    if (signal === 'SIGKILL') {
      await this.kill(child, 'SIGKILL');
    } else {
      const killer = setTimeout(() => {
        this.log(`${this.name} did not stop within ${this.spec.stopTimeoutMs} ms of SIGTERM: SIGKILL`);
        try {
          child.kill('SIGKILL');
        } catch {
          /* ignore */
        }
      }, this.spec.stopTimeoutMs);
      try {
        await this.kill(child, 'SIGTERM');
      } finally {
        clearTimeout(killer);
      }
    }
    this.log(`${this.name} stopped with ${signal} in ${Date.now() - t} ms`);
  }

  async restart(signal: StopSignal = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  pause(): void {
    if (!this.child) throw new Error(`${this.name} is not running`);
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.child) throw new Error(`${this.name} is not running`);
    this.child.kill('SIGCONT');
    this.paused = false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// readiness probes

function redisPing(port: number, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    const sock = netConnect({ host: HOST, port });
    let buf = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) rej(err);
      else res();
    };
    const timer = setTimeout(() => done(new Error(`no PING reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        if (buf.startsWith('+PONG')) done();
        else done(new Error(`PING answered ${JSON.stringify(buf.trim())}`)); // e.g. -LOADING while reading the AOF
      }
    });
    sock.on('error', (err) => done(err));
  });
}

async function mongoPing(url: string, timeoutMs: number): Promise<void> {
  const t = Math.max(500, Math.min(timeoutMs, 3000));
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: t,
    connectTimeoutMS: t,
    socketTimeoutMS: t * 2,
    directConnection: true,
    monitorCommands: false,
  });
  try {
    await client.connect();
    const r = await client.db('admin').command({ ping: 1 });
    if (r['ok'] !== 1) throw new Error(`ping answered ${JSON.stringify(r)}`);
  } finally {
    await client.close(true).catch(() => {});
  }
}

const KAFKA_READY_TOPIC = 'dcr-infra-ready';

/**
 * admin connects, creates and lists a topic, an idempotent producer writes, and a consumer group joins
 * (the group coordinator works).
 */
async function kafkaProbe(brokers: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  const step = (what: string) => debug(`kafka probe ${brokers}: ${what} (+${Date.now() - t0} ms)`);
  const kafka = new Kafka({
    clientId: 'dcr-infra-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: Math.max(2000, Math.min(timeoutMs, 10_000)),
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(KAFKA_READY_TOPIC)) {
      await admin.createTopics({ topics: [{ topic: KAFKA_READY_TOPIC, numPartitions: 1 }], waitForLeaders: true, timeout: 5000 });
      const again = await admin.listTopics();
      if (!again.includes(KAFKA_READY_TOPIC)) throw new Error(`topic ${KAFKA_READY_TOPIC} was created but is not listed`);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
  step('topic listed');

  // an idempotent producer gets a producer id and writes (the transaction coordinator is loaded)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic: KAFKA_READY_TOPIC, acks: -1, timeout: 5000, messages: [{ value: 'ready' }] });
  } finally {
    await producer.disconnect().catch(() => {});
  }
  step('idempotent producer wrote');

  const consumer = kafka.consumer({
    groupId: `dcr-infra-ready-${randomBytes(4).toString('hex')}`,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 1000,
    // disconnect() waits for the in-flight fetch: keep it short (default 5 s)
    maxWaitTimeInMs: 100,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const joined = new Promise<void>((res, rej) => {
      consumer.on(consumer.events.GROUP_JOIN, () => res());
      consumer.on(consumer.events.CRASH, (e) => rej(new Error(`consumer crashed: ${errMessage(e.payload.error)}`)));
      timer = setTimeout(() => rej(new Error('consumer group did not join (group coordinator not ready?)')), Math.min(timeoutMs, 20_000));
    });
    joined.catch(() => {});
    await consumer.connect();
    await consumer.subscribe({ topic: KAFKA_READY_TOPIC, fromBeginning: false });
    await consumer.run({ eachMessage: async () => {} });
    await joined;
    step('consumer group joined');
  } finally {
    if (timer) clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
  step('consumer left');
}

// ---------------------------------------------------------------------------------------------------------
// server specs

function kafkaSpec(
  workDir: string,
  port: number,
  controllerPort: number,
  opts: KafkaOptions,
  timeoutMs: number,
): ServerSpec {
  const paths = infraPaths();
  const home = join(workDir, 'kafka');
  const dataDir = join(home, 'data');
  const propsFile = join(home, 'server.properties');
  const log4jFile = join(home, 'log4j2.properties');
  const logFile = join(workDir, 'logs', 'kafka.log');
  const proxied = opts.proxiedListener;
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}${proxied ? `,PROXIED://${HOST}:${proxied.port}` : ''}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${port}${proxied ? `,PROXIED://${HOST}:${proxied.advertisedPort}` : ''}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${proxied ? ',PROXIED:PLAINTEXT' : ''}`,
    'log.dirs': dataDir,
    // a single broker: every internal topic must have replication factor 1, else no group coordinator
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    'num.partitions': 3,
    // after a SIGKILL the restarted node waits for its old broker session to expire (default 9 s)
    'broker.session.timeout.ms': 5000,
    'broker.heartbeat.interval.ms': 1000,
    // 2 cores: fewer threads, small cleaner buffer
    'num.network.threads': 2,
    'num.io.threads': 4,
    'background.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    ...opts.properties,
  };
  return {
    name: 'kafka',
    port,
    url: `${HOST}:${port}`,
    dataDir: home,
    logFile,
    readyTimeoutMs: timeoutMs,
    stopTimeoutMs: 30_000,
    prepare: async () => {
      mkdirSync(home, { recursive: true });
      writeFileSync(
        propsFile,
        Object.entries(props)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join('\n') + '\n',
      );
      writeFileSync(
        log4jFile,
        [
          'status = warn',
          'appender.out.type = Console',
          'appender.out.name = STDOUT',
          'appender.out.layout.type = PatternLayout',
          'appender.out.layout.pattern = [%d] %p %m (%c)%n',
          'rootLogger.level = INFO',
          'rootLogger.appenderRef.out.ref = STDOUT',
          // the noisiest INFO loggers
          'logger.statechange.name = state.change.logger',
          'logger.statechange.level = WARN',
          'logger.config.name = org.apache.kafka.common.config.AbstractConfig',
          'logger.config.level = WARN',
          'logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser',
          'logger.appinfo.level = WARN',
          '',
        ].join('\n'),
      );
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        // KRaft: format the storage directory with a random cluster id before the first start
        // A KRaft cluster id is 16 bytes in base64url; one that starts with '-' would be read as a flag
        // by the storage tool's argument parser (1 start in 64 failed so): pass it as `--cluster-id=`.
        const clusterId = randomBytes(16).toString('base64url');
        const r = await runToLog(
          'java',
          ['-Xmx256m', '-cp', join(paths.kafkaLibs, '*'), `-Dlog4j2.configurationFile=${log4jFile}`, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', propsFile],
          logFile,
          home,
        );
        if (r !== 0) throw new Error(`kafka storage format failed (exit ${r})`);
      }
    },
    launch: () => ({
      cmd: 'java',
      args: [
        ...(opts.heap ?? ['-Xmx512m', '-Xms256m']),
        // C1 only: starts ~30-40% faster on 2 cores (measured); pass jvmArgs ['-XX:TieredStopAtLevel=4'] for C2
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:InitiatingHeapOccupancyPercent=35',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${log4jFile}`,
        `-Dkafka.logs.dir=${join(workDir, 'logs')}`,
        ...(opts.jvmArgs ?? []),
        '-cp',
        join(paths.kafkaLibs, '*'),
        'kafka.Kafka',
        propsFile,
      ],
    }),
    probe: (remaining) => kafkaProbe(`${HOST}:${port}`, remaining),
  };
}

function runToLog(cmd: string, args: string[], logFile: string, cwd: string): Promise<number | null> {
  return new Promise((res, rej) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
    child.on('error', (err) => {
      closeSync(fd);
      rej(err);
    });
    child.on('exit', (code) => {
      closeSync(fd);
      res(code);
    });
  });
}

function mongoSpec(
  workDir: string,
  port: number,
  opts: MongoOptions,
  launcher: { classpath: string; main: string[] },
  timeoutMs: number,
): ServerSpec {
  const home = join(workDir, 'mongo');
  const url = `mongodb://${HOST}:${port}`;
  return {
    name: 'mongo',
    port,
    url,
    dataDir: home,
    logFile: join(workDir, 'logs', 'mongo.log'),
    readyTimeoutMs: timeoutMs,
    stopTimeoutMs: 15_000,
    launch: () => ({
      cmd: 'java',
      args: [
        '-Xmx384m',
        '-Xms64m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS',
        '-cp',
        launcher.classpath,
        ...launcher.main,
        '--port',
        String(port),
        '--backend',
        opts.backend,
        ...(opts.backend === 'h2' ? ['--file', join(home, 'mongo.mv')] : []),
        ...(opts.oplog ? ['--oplog'] : []),
        '--parent-pid',
        String(process.pid),
      ],
    }),
    probe: (remaining) => mongoPing(url, remaining),
  };
}

function redisSpec(workDir: string, port: number, opts: RedisOptions, timeoutMs: number): ServerSpec {
  const home = join(workDir, 'redis');
  return {
    name: 'redis',
    port,
    url: `redis://${HOST}:${port}`,
    dataDir: home,
    logFile: join(workDir, 'logs', 'redis.log'),
    readyTimeoutMs: timeoutMs,
    stopTimeoutMs: 15_000,
    launch: () => ({
      cmd: 'redis-server',
      args: [
        '--port', String(port),
        '--bind', HOST,
        '--dir', home,
        '--daemonize', 'no',
        '--logfile', '',
        '--save', '',
        '--appendonly', opts.appendonly ? 'yes' : 'no',
        '--appendfsync', opts.appendfsync ?? 'always',
        // BullMQ needs keys never evicted
        '--maxmemory-policy', 'noeviction',
      ],
    }),
    probe: (remaining) => redisPing(port, Math.min(remaining, 2000)),
  };
}

/** GET https://127.0.0.1:<port>/health/ready → 200 {"status":"UP"} (Keycloak's management interface). */
function keycloakReady(port: number, caPem: string, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    const req = httpsGet(
      { host: HOST, port, path: '/health/ready', method: 'GET', ca: caPem, servername: 'localhost', timeout: Math.min(timeoutMs, 5000), agent: false },
      (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => (r.statusCode === 200 && /"status"\s*:\s*"UP"/.test(body) ? res() : rej(new Error(`/health/ready answered ${r.statusCode}: ${body.replace(/\s+/g, '').slice(0, 200)}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('/health/ready timed out')));
    req.on('error', rej);
    req.end();
  });
}

/** Keycloak's JVM flags (bin/kc.sh's defaults), launched without the script so that signals reach the JVM itself. */
const KEYCLOAK_JVM = [
  '-XX:MetaspaceSize=96M',
  '-XX:MaxMetaspaceSize=256m',
  '-Dfile.encoding=UTF-8',
  '-Dsun.stdout.encoding=UTF-8',
  '-Dsun.err.encoding=UTF-8',
  '-Dstdout.encoding=UTF-8',
  '-Dstderr.encoding=UTF-8',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.security.egd=file:/dev/urandom',
  '-XX:+UseSerialGC',
  // C1 only: a faster start on 2 cores, as for Kafka
  '-XX:TieredStopAtLevel=1',
  '-Djdk.tls.rejectClientInitiatedRenegotiation=true',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent=ALL-UNNAMED',
  '--add-opens=java.base/java.security=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
  '--enable-native-access=ALL-UNNAMED',
  '-Duser.language=en',
  '-Duser.country=US',
  '-Djava.util.logging.manager=org.jboss.logmanager.LogManager',
  '-Dpicocli.disable.closures=true',
  '-Dquarkus-log-max-startup-records=10000',
  '-Djava.util.concurrent.ForkJoinPool.common.threadFactory=io.quarkus.bootstrap.forkjoin.QuarkusForkJoinWorkerThreadFactory',
];

async function keycloakTrust(workDir: string, directoryDataDir?: string): Promise<{ caCertFile: string; caKeyFile: string; caPem: string; certFile: string; keyFile: string }> {
  const dir = join(workDir, 'keycloak');
  mkdirSync(dir, { recursive: true });
  if (directoryDataDir && !existsSync(join(directoryDataDir, 'sandbox', SANDBOX_FILES.caCert))) {
    // opening it would create a directory whose certificates name the wrong URLs: let npm start make it
    throw new Error(`${resolve(directoryDataDir)} holds no sandbox directory (run npm start once first)`);
  }
  // a sandbox directory's CA (the same kind of CA every test pipeline makes), kept for the whole run
  const directory = await SandboxDirectory.open({ dataDir: directoryDataDir ?? join(dir, 'directory'), baseUrl: 'https://localhost' });
  const tls = await directory.issueServerCertificate(['localhost', '127.0.0.1']);
  const certFile = join(dir, 'tls.crt.pem');
  const keyFile = join(dir, 'tls.key.pem');
  writeFileSync(certFile, tls.certPem);
  writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
  return {
    caCertFile: join(directory.sandboxDir, SANDBOX_FILES.caCert),
    caKeyFile: join(directory.sandboxDir, SANDBOX_FILES.caKey),
    caPem: directory.caCertPem,
    certFile,
    keyFile,
  };
}

function keycloakSpec(
  workDir: string,
  port: number,
  managementPort: number,
  opts: KeycloakInfraOptions,
  trust: Awaited<ReturnType<typeof keycloakTrust>>,
  admin: { username: string; password: string },
  timeoutMs: number,
): ServerSpec {
  const dist = keycloakPaths().dist;
  const home = join(workDir, 'keycloak', 'home');
  return {
    name: 'keycloak',
    port,
    url: `https://localhost:${port}`,
    dataDir: home,
    logFile: join(workDir, 'logs', 'keycloak.log'),
    readyTimeoutMs: timeoutMs,
    stopTimeoutMs: 30_000,
    prepare: async () => {
      // a home of its own: the shared distribution linked in, data/ (H2, truststore, transaction logs) per run
      mkdirSync(join(home, 'data'), { recursive: true });
      for (const entry of ['bin', 'conf', 'lib', 'providers', 'themes']) {
        if (!existsSync(join(home, entry))) symlinkSync(join(dist, entry), join(home, entry));
      }
    },
    launch: () => ({
      cmd: 'java',
      args: [
        ...(opts.heap ?? ['-Xms64m', '-Xmx512m']),
        ...KEYCLOAK_JVM,
        `-Dkc.home.dir=${home}`,
        `-Djboss.server.config.dir=${join(home, 'conf')}`,
        '-cp',
        join(home, 'lib', 'quarkus-run.jar'),
        'io.quarkus.bootstrap.runner.QuarkusEntryPoint',
        'start',
        '--optimized',
        '--cache=local',
        `--http-host=${HOST}`,
        `--https-port=${port}`,
        `--http-management-port=${managementPort}`,
        `--hostname=https://localhost:${port}`,
        `--https-certificate-file=${trust.certFile}`,
        `--https-certificate-key-file=${trust.keyFile}`,
        `--truststore-paths=${trust.caCertFile}`,
      ],
      env: { KC_BOOTSTRAP_ADMIN_USERNAME: admin.username, KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password },
    }),
    probe: (remaining) => keycloakReady(managementPort, trust.caPem, remaining),
  };
}

// ---------------------------------------------------------------------------------------------------------

const RUN_ROOT = join(REPO_ROOT, '.cache', 'infra', 'run');

/** Removes auto-created work dirs left by processes that died without stop() (their pid is gone). */
function pruneStaleRunDirs(): void {
  let entries: string[];
  try {
    entries = readdirSync(RUN_ROOT);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(/^\d{8}-\d{6}-(\d+)-[0-9a-f]{4}$/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) rmSync(join(RUN_ROOT, entry), { recursive: true, force: true });
  }
}

function defaultWorkDir(): string {
  pruneStaleRunDirs();
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return join(RUN_ROOT, `${stamp}-${process.pid}-${randomBytes(2).toString('hex')}`);
}

/**
 * Starts the requested servers in parallel on free ports and waits until each is ready.
 * On failure the servers already started are stopped and an InfraStartError (or an AggregateError of them,
 * when several failed) is thrown whose message names the server and carries the tail of its log.
 */
export async function startInfra(opts: InfraOptions): Promise<Infra> {
  const log = opts.log ?? (() => {});
  const autoWorkDir = opts.workDir === undefined;
  const workDir = resolve(opts.workDir ?? defaultWorkDir());
  mkdirSync(join(workDir, 'logs'), { recursive: true });
  const timeouts = { kafka: 120_000, mongo: 60_000, redis: 30_000, keycloak: 300_000, ...opts.startTimeoutMs };

  const needJava = Boolean(opts.kafka || opts.mongo);
  let launcher: { classpath: string; main: string[] } | undefined;
  if (needJava) {
    if (!isFetched()) {
      if (opts.autoFetch === false) {
        throw new Error(`infra jars are missing from ${infraPaths().cacheDir}: run 'npm run infra -- fetch'`);
      }
      log('infra jars missing: fetching them (npm run infra -- fetch)');
      await fetchInfra({ log });
    }
    if (opts.mongo) launcher = await ensureMongoLauncher();
  }
  let keycloakTrustFiles: Awaited<ReturnType<typeof keycloakTrust>> | undefined;
  const keycloakOpts: KeycloakInfraOptions = typeof opts.keycloak === 'object' ? opts.keycloak : {};
  const keycloakAdmin = { username: keycloakOpts.adminUsername ?? 'admin', password: keycloakOpts.adminPassword ?? randomBytes(12).toString('base64url') };
  if (opts.keycloak) {
    if (!isKeycloakFetched()) {
      if (opts.autoFetch === false) throw new Error(`Keycloak is missing from ${keycloakPaths().dir}: run 'npm run infra -- fetch'`);
      log('Keycloak missing: fetching it (npm run infra -- fetch)');
      await fetchKeycloak({ log });
    }
    keycloakTrustFiles = await keycloakTrust(workDir, keycloakOpts.directoryDataDir);
  }

  type Maker = (ports: number[]) => ServerSpec;
  const plans: { name: ServerName; portCount: number; make: Maker }[] = [];
  if (opts.kafka) {
    const k = typeof opts.kafka === 'object' ? opts.kafka : {};
    plans.push({ name: 'kafka', portCount: 2, make: ([p, c]) => kafkaSpec(workDir, p!, c!, k, timeouts.kafka) });
  }
  if (opts.mongo) {
    const m: MongoOptions = typeof opts.mongo === 'object' ? opts.mongo : { backend: 'memory' };
    plans.push({ name: 'mongo', portCount: 1, make: ([p]) => mongoSpec(workDir, p!, m, launcher!, timeouts.mongo) });
  }
  if (opts.keycloak) {
    plans.push({ name: 'keycloak', portCount: 2, make: ([p, m]) => keycloakSpec(workDir, p!, m!, keycloakOpts, keycloakTrustFiles!, keycloakAdmin, timeouts.keycloak) });
  }
  if (opts.redis) {
    const r: RedisOptions = typeof opts.redis === 'object' ? opts.redis : { appendonly: false };
    plans.push({ name: 'redis', portCount: 1, make: ([p]) => redisSpec(workDir, p!, r, timeouts.redis) });
  }

  const started: ManagedServer[] = [];
  const failures: InfraStartError[] = [];
  // the first failure stops the servers still starting: no waiting for Kafka when Redis cannot start
  const shouldAbort = () => (failures.length > 0 ? `${failures.map((f) => f.server).join(', ')} failed to start` : undefined);
  await Promise.all(
    plans.map(async (plan) => {
      // a free port can be taken by someone else between freePort() and the bind: retry with new ports
      for (let attempt = 1; ; attempt++) {
        const ports: number[] = [];
        for (let i = 0; i < plan.portCount; i++) ports.push(await freePort());
        const server = new ManagedServer(plan.make(ports), log);
        try {
          await server.startUnless(shouldAbort);
          started.push(server);
          return;
        } catch (err) {
          if (err instanceof StartAborted) {
            log(err.message);
            return;
          }
          const e = err instanceof InfraStartError ? err : new InfraStartError(plan.name, errMessage(err), server.logFile);
          if (e.addressInUse && attempt < 3) {
            log(`${plan.name}: port taken, retrying with other ports`);
            if (plan.name === 'kafka') rmSync(join(workDir, 'kafka'), { recursive: true, force: true });
            continue;
          }
          failures.push(e);
          return;
        }
      }
    }),
  );

  if (failures.length > 0) {
    await Promise.all(started.map((s) => s.stop('SIGKILL').catch(() => {})));
    const keep = `(logs kept in ${workDir})`;
    if (failures.length === 1) {
      failures[0]!.message += `\n${keep}`;
      throw failures[0];
    }
    throw new AggregateError(failures, `${failures.map((f) => f.server).join(', ')} failed to start ${keep}:\n\n${failures.map((f) => f.message).join('\n\n')}`);
  }

  const order: ServerName[] = ['kafka', 'mongo', 'redis', 'keycloak'];
  started.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const byName = (n: ServerName) => started.find((s) => s.name === n);
  let stopped = false;
  const infra: Infra = {
    workDir,
    servers: started,
    server(name) {
      const s = byName(name);
      if (!s) throw new Error(`${name} was not started`);
      return s;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(started.map((s) => s.stop('SIGTERM')));
      if (autoWorkDir && !opts.keepWorkDir && process.env['DCR_INFRA_KEEP'] !== '1') {
        rmSync(workDir, { recursive: true, force: true });
      } else {
        log(`infra logs and data kept in ${workDir}`);
      }
    },
  };
  const kafka = byName('kafka');
  const mongo = byName('mongo');
  const redis = byName('redis');
  const keycloak = byName('keycloak');
  if (keycloak && keycloakTrustFiles) {
    infra.keycloak = keycloak;
    infra.keycloakInfo = {
      url: keycloak.url,
      adminUsername: keycloakAdmin.username,
      adminPassword: keycloakAdmin.password,
      caCertFile: keycloakTrustFiles.caCertFile,
      caKeyFile: keycloakTrustFiles.caKeyFile,
    };
  }
  if (kafka) {
    infra.kafka = kafka;
    infra.kafkaBrokers = kafka.url;
  }
  if (mongo) {
    infra.mongo = mongo;
    infra.mongoUrl = mongo.url;
  }
  if (redis) {
    infra.redis = redis;
    infra.redisUrl = redis.url;
  }
  return infra;
}

/** Versions recorded by the last fetch (for logs/reports). */
export function infraVersions(): { kafka: string; mongoJavaServer: string } | undefined {
  try {
    const m = JSON.parse(readFileSync(infraPaths().marker, 'utf8')) as { versions: { kafka: string; mongoJavaServer: string } };
    return { kafka: m.versions.kafka, mongoJavaServer: m.versions.mongoJavaServer };
  } catch {
    return undefined;
  }
}
