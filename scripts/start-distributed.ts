/**
 * `npm run start:distributed`: the distributed mode on one machine, in one command. Starts Kafka
 * (KRaft), mongo-java-server and redis-server (testkit/servers.ts; jars fetched on first use),
 * then every service as its own process (`node dist/sandbox/service/main.js <name>`), with the shared
 * variables (testkit/distributed-env.ts): the sandbox directory, the provisioner (it runs the
 * outbox relay and creates the topics), verifier, revocation, the sandbox AS, intake, ops and
 * gateway-sync, and the notifier when DCR_NOTIFIER_WEBHOOK_URL is set. Prints what to try next.
 * Ctrl-C (SIGINT) or SIGTERM stops the services (intake first), then the servers; nothing is left
 * running (each child also has a watchdog that stops it should this process be killed).
 *
 * With DCR_MONGO_URL, DCR_REDIS_URL and DCR_KAFKA_BROKERS all set, those servers are used and none
 * is started. Ports: DCR_HTTPS_PORT (8443), DCR_SANDBOX_PORT (8444), DCR_AS_PORT (8445),
 * DCR_ADMIN_PORT (8081); data (sandbox CA, TPPs, admin token): DCR_DATA_DIR (./var).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS } from '../core/domain/events.js';
import { SandboxDirectory } from '../sandbox/directory-sandbox/directory.js';
import { httpsRequest } from '../sandbox/tpp-client/https-client.js';
import { distributedServiceEnv } from '../testkit/distributed-env.js';
import { spawnWatchdog, startInfra, type Infra } from '../testkit/servers.js';
import { sandboxServiceArgs } from '../testkit/service-entry.js';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const env = process.env;
const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string): never => {
  process.stderr.write(`start:distributed: ${line}\n`);
  process.exit(1);
};

interface Service {
  name: string;
  child: ChildProcess;
  log: WriteStream;
  tail: string[];
}

function port(variable: string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) fail(`${variable} must be a TCP port (1-65535), got '${raw.slice(0, 20)}'`);
  return n;
}

/**
 * Binds `p` and keeps it bound (null when it is in use). Held while Kafka, MongoDB and Redis start:
 * they take free ports the kernel hands out, and a port still bound here is never one of them.
 */
function reservePort(p: number): Promise<Server | null> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(null));
    server.listen(p, '127.0.0.1', () => done(server));
  });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, services: Service[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const dead = services.find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${dead.tail.join('')}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A service's output goes to its log file; its warnings, errors and plain lines (the admin token) also here. */
function relay(name: string, chunk: Buffer, service: Service): void {
  service.log.write(chunk);
  for (const line of chunk.toString().split('\n')) {
    if (!line.trim()) continue;
    service.tail.push(`${line}\n`);
    if (service.tail.length > 30) service.tail.shift();
    if (!line.startsWith('{')) {
      say(`[${name}] ${line}`);
      continue;
    }
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
      if ((entry.level ?? 0) >= 40) say(`[${name}] ${(entry.level ?? 0) >= 50 ? 'error' : 'warn'}: ${entry.msg ?? line}`);
    } catch {
      say(`[${name}] ${line}`);
    }
  }
}

async function main(): Promise<void> {
  if (env.DCR_SANDBOX === '0') {
    fail("runs the sandbox (DCR_SANDBOX=1); against a bank's own directory and AS, start the services yourself (README: Distributed in one command)");
  }
  const dataDir = resolve(env.DCR_DATA_DIR ?? join(REPO, 'var'));
  const ports = {
    intake: port('DCR_HTTPS_PORT', 8443),
    sandbox: port('DCR_SANDBOX_PORT', 8444),
    as: port('DCR_AS_PORT', 8445),
    admin: port('DCR_ADMIN_PORT', 8081),
  };
  const reserved: Server[] = [];
  for (const [variable, p] of [['DCR_HTTPS_PORT', ports.intake], ['DCR_SANDBOX_PORT', ports.sandbox], ['DCR_AS_PORT', ports.as], ['DCR_ADMIN_PORT', ports.admin]] as const) {
    const server = await reservePort(p);
    reserved.push(server ?? fail(`port ${p} (${variable}) is in use: is \`npm start\` or another start:distributed running? Stop it or set ${variable}`));
  }
  for (const name of ['intake', 'verifier', 'revocation', 'provisioner', 'ops', 'sandbox-as', 'gateway-sync', 'notifier']) {
    const [script] = sandboxServiceArgs(name, 'dist');
    if (!script || !existsSync(join(REPO, script))) fail(`${script} is missing: run \`npm run build\` (npm run start:distributed does)`);
  }

  const own = [env.DCR_MONGO_URL, env.DCR_REDIS_URL, env.DCR_KAFKA_BROKERS].filter((v) => v);
  if (own.length > 0 && own.length < 3) {
    const missing = (['DCR_MONGO_URL', 'DCR_REDIS_URL', 'DCR_KAFKA_BROKERS'] as const).filter((v) => !env[v]);
    fail(`${missing.join(', ')} not set: set all three to use your own servers, or none to start local ones`);
  }
  const namespace = env.DCR_NAMESPACE ?? 'local';
  const t0 = Date.now();
  let infra: Infra | undefined;
  if (own.length === 0) {
    say('starting Kafka, mongo-java-server and redis-server (the first start fetches the jars: npm run infra -- fetch)…');
    infra = await startInfra({ kafka: true, mongo: { backend: 'memory' }, redis: true, log: (line) => process.stderr.write(`[infra] ${line}\n`) }).catch((error: unknown) =>
      fail(error instanceof Error ? error.message : String(error)),
    );
  }
  // The servers have their ports: hand ours back for the services to bind.
  await Promise.all(reserved.map((server) => new Promise<void>((done) => server.close(() => done()))));
  const servers = infra
    ? { mongoUrl: infra.mongoUrl ?? '', redisUrl: infra.redisUrl ?? '', kafkaBrokers: infra.kafkaBrokers ?? '' }
    : { mongoUrl: env.DCR_MONGO_URL ?? '', redisUrl: env.DCR_REDIS_URL ?? '', kafkaBrokers: env.DCR_KAFKA_BROKERS ?? '' };

  const asIssuer = `https://localhost:${ports.as}`;
  const shared: Record<string, string> = {
    ...distributedServiceEnv({ dataDir, namespace, sandboxPort: ports.sandbox, intakePort: ports.intake, infra: servers }),
    // Our own servers: the URL as given (its database name included); local ones: a database per namespace.
    ...(infra ? {} : { DCR_MONGO_URL: servers.mongoUrl }),
    DCR_AS_PROVISIONING: 'sandbox',
    DCR_AS_PORT: String(ports.as),
    DCR_AS_ISSUER: asIssuer,
    DCR_AS_JWKS_URL: `${asIssuer}/jwks`,
    DCR_ADMIN_PORT: String(ports.admin),
    DCR_LOG_LEVEL: env.DCR_LOG_LEVEL ?? 'info',
  };
  const logDir = join(dataDir, 'logs', 'distributed');
  mkdirSync(logDir, { recursive: true });

  const services: Service[] = [];
  let stopping = false;
  const startService = (name: string): Service => {
    const child = spawn(process.execPath, sandboxServiceArgs(name, 'dist'), {
      cwd: REPO,
      env: { ...process.env, ...shared },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C reaches this launcher, which stops the services in order.
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    spawnWatchdog(child.pid);
    const service: Service = { name, child, log: createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }), tail: [] };
    child.stdout?.on('data', (d: Buffer) => relay(name, d, service));
    child.stderr?.on('data', (d: Buffer) => relay(name, d, service));
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`[${name}] exited unexpectedly (${code ?? signal}); last lines:\n${service.tail.join('')}`);
      void shutdown('a service exited', 1);
    });
    services.push(service);
    return service;
  };

  const stopService = (s: Service) =>
    new Promise<void>((done) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return done();
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
      s.child.once('exit', () => {
        clearTimeout(timer);
        s.log.end();
        done();
      });
      s.child.kill('SIGTERM');
    });

  let firstSignalAt = 0;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say(`\n${why}: stopping the services…`);
    // The intake first (no new requests), then the workers and the rest, then the servers.
    const intake = services.filter((s) => s.name === 'intake');
    await Promise.all(intake.map(stopService));
    await Promise.all(services.filter((s) => s.name !== 'intake').map(stopService));
    if (infra) {
      say('stopping Kafka, MongoDB and Redis…');
      await infra.stop();
    }
    say('stopped; nothing left running.');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (!stopping) {
        firstSignalAt = now;
        void shutdown(signal, 0);
      } else if (now - firstSignalAt > 2_000) {
        // A second Ctrl-C (not the copy npm forwards): stop waiting. The exit hook and watchdogs kill the rest.
        say(`${signal} again: exiting now`);
        for (const s of services) s.child.kill('SIGKILL');
        process.exit(130);
      }
    });
  }

  try {
    startService('directory-sandbox');
    let directory: SandboxDirectory | undefined;
    const sandboxService = services[0] as Service;
    await until(
      'the sandbox directory',
      async () => {
        // Opened here only once the process has created (or loaded) the CA, so that one CA exists.
        if (!sandboxService.tail.some((line) => line.includes('sandbox directory listening'))) return false;
        directory ??= await SandboxDirectory.open({ dataDir, baseUrl: shared.DCR_SANDBOX_BASE_URL as string });
        return (await httpsRequest(directory.directoryJwksUrl, { identity: { caPem: directory.caCertPem } })).status === 200;
      },
      60_000,
      services,
    );
    const caPem = (directory as SandboxDirectory).caCertPem;
    // The provisioner runs the outbox relay, which creates the topics; the consumers start after it has.
    for (const name of ['provisioner', 'verifier', 'revocation']) startService(name);
    const admin = new Kafka({ brokers: servers.kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await until('the Kafka topics', async () => (await admin.listTopics()).includes(`${namespace}.${TOPICS.client}`), 90_000, services);
    } finally {
      await admin.disconnect();
    }
    for (const name of ['sandbox-as', 'gateway-sync']) startService(name);
    if (env.DCR_NOTIFIER_WEBHOOK_URL) startService('notifier');
    // The intake reads the AS's discovery document: it starts once the AS answers.
    await until('the sandbox AS', async () => (await httpsRequest(`${asIssuer}/jwks`, { identity: { caPem } })).status === 200, 60_000, services);
    startService('intake');
    startService('ops');
    await until('the intake', async () => (await httpsRequest(`https://localhost:${ports.intake}/health/ready`, { identity: { caPem } })).status === 200, 120_000, services);
    await until('the ops service', async () => (await fetch(`http://127.0.0.1:${ports.admin}/health/ready`)).status === 200, 60_000, services);
  } catch (error) {
    process.stderr.write(`start:distributed: ${error instanceof Error ? error.message : String(error)}\n`);
    await shutdown('start-up failed', 1);
    return;
  }

  const lines = [
    '',
    `DCR pipeline running in the distributed mode (${((Date.now() - t0) / 1000).toFixed(1)} s), namespace ${namespace}, data in ${dataDir}`,
    infra
      ? `  servers (local)       Kafka ${servers.kafkaBrokers} · MongoDB ${servers.mongoUrl} · Redis ${servers.redisUrl}`
      : `  servers (yours)       Kafka ${servers.kafkaBrokers} · MongoDB and Redis from DCR_MONGO_URL / DCR_REDIS_URL`,
    `  intake (mutual TLS)   https://localhost:${ports.intake}`,
    `  sandbox directory     https://localhost:${ports.sandbox}`,
    `  sandbox AS (mTLS)     ${asIssuer}`,
    `  admin API, dashboard  http://127.0.0.1:${ports.admin}/admin/   (token in ${join(dataDir, 'admin-token')} unless DCR_ADMIN_TOKEN is set)`,
    `  processes             ${services.map((s) => `${s.name}=${s.child.pid}`).join(' ')}${infra ? ` ${infra.servers.map((s) => `${s.name}=${s.pid}`).join(' ')}` : ''}`,
    `  logs                  ${logDir}/<service>.log${infra ? `, ${infra.workDir}/logs` : ''}`,
    ...(env.DCR_NOTIFIER_WEBHOOK_URL ? [] : ['  notifier              not started (set DCR_NOTIFIER_WEBHOOK_URL to run it)']),
    '',
    'Try next, in another terminal (from the repository, with the same DCR_* ports and DCR_DATA_DIR):',
    '  npx dcr-pipeline sandbox tpp create acme --roles AISP,PISP # a TPP in the sandbox directory',
    '  npx dcr-pipeline register --tpp acme                        # sign, submit over mTLS to the intake, print the client',
    '  npx dcr-pipeline token --tpp acme                           # client-credentials token from the sandbox AS',
    '  npx dcr-pipeline ops failed                                 # the admin API of the ops process',
    '',
    'distributed mode ready; Ctrl-C stops every service, then Kafka, MongoDB and Redis.',
    '',
  ];
  say(lines.join('\n'));
}

await main();
