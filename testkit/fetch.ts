/**
 * Fetches the jars of the test infrastructure (Apache Kafka in KRaft mode, mongo-java-server with its
 * in-memory and H2 backends) and the Keycloak distribution (see fetchKeycloak) from Maven Central into `.cache/infra` with `mvn dependency:copy-dependencies`,
 * and compiles testkit/MongoServerMain.java once (a source launch costs ~4 s per start, the
 * compiled class ~0.5 s).
 *
 * Idempotent: a marker file `.cache/infra/fetched.json` records the versions and a hash of pom.xml; when it
 * matches and the jars are present nothing is downloaded. Nothing here depends on files outside the
 * repository except Maven's local repository (~/.m2), which is only a cache.
 *
 * Versions are pinned in testkit/pom.xml (the single source of truth); this file reads them from there.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const POM_FILE = join(REPO_ROOT, 'testkit', 'pom.xml');
export const MONGO_LAUNCHER_SOURCE = join(REPO_ROOT, 'testkit', 'MongoServerMain.java');

/** Minimum Java feature release: Kafka 4.x brokers and mongo-java-server 1.47 need Java 17. */
export const MIN_JAVA = 17;

export interface InfraVersions {
  kafka: string;
  log4j: string;
  mongoJavaServer: string;
  slf4j: string;
}

export interface InfraPaths {
  cacheDir: string;
  kafkaLibs: string;
  mongoLibs: string;
  /** compiled MongoServerMain.class (see ensureMongoLauncher) */
  mongoClasses: string;
  marker: string;
}

export interface FetchMarker {
  versions: InfraVersions;
  pomSha256: string;
  fetchedAt: string;
  fetchMillis: number;
}

export interface FetchResult {
  skipped: boolean;
  versions: InfraVersions;
  paths: InfraPaths;
  millis: number;
}

/** A required tool (java, mvn, javac) is missing or too old. The message says how to install it. */
export class InfraToolError extends Error {
  override name = 'InfraToolError';
}

/** `.cache/infra` of this repository, or $DCR_INFRA_CACHE. */
export function infraPaths(cacheDir?: string): InfraPaths {
  const dir = resolve(cacheDir ?? process.env['DCR_INFRA_CACHE'] ?? join(REPO_ROOT, '.cache', 'infra'));
  return {
    cacheDir: dir,
    kafkaLibs: join(dir, 'kafka', 'libs'),
    mongoLibs: join(dir, 'mongo', 'libs'),
    mongoClasses: join(dir, 'mongo', 'classes'),
    marker: join(dir, 'fetched.json'),
  };
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads the pinned versions from the <properties> of testkit/pom.xml. */
export function readPomVersions(pomFile = POM_FILE): InfraVersions {
  const pom = readFileSync(pomFile, 'utf8');
  const prop = (name: string): string => {
    const m = new RegExp(`<${name.replace(/\./g, '\\.')}>([^<]+)</${name.replace(/\./g, '\\.')}>`).exec(pom);
    if (!m?.[1]) throw new Error(`${pomFile} has no <${name}> property`);
    return m[1].trim();
  };
  return {
    kafka: prop('kafka.version'),
    log4j: prop('log4j.version'),
    mongoJavaServer: prop('mongo-java-server.version'),
    slf4j: prop('slf4j.version'),
  };
}

function readMarker(paths: InfraPaths): FetchMarker | undefined {
  try {
    return JSON.parse(readFileSync(paths.marker, 'utf8')) as FetchMarker;
  } catch {
    return undefined;
  }
}

function hasJar(dir: string, fileName: string): boolean {
  try {
    return readdirSync(dir).includes(fileName);
  } catch {
    return false;
  }
}

/** True when the cache holds the jars of exactly the versions pinned in pom.xml. */
export function isFetched(paths = infraPaths()): boolean {
  const marker = readMarker(paths);
  if (!marker || marker.pomSha256 !== sha256(readFileSync(POM_FILE))) return false;
  const v = marker.versions;
  return (
    hasJar(paths.kafkaLibs, `kafka_2.13-${v.kafka}.jar`) &&
    hasJar(paths.mongoLibs, `mongo-java-server-${v.mongoJavaServer}.jar`) &&
    hasJar(paths.mongoLibs, `mongo-java-server-h2-backend-${v.mongoJavaServer}.jar`)
  );
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; rejects with InfraToolError when the executable is not on PATH. */
function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            stderr += `\n(killed after ${opts.timeoutMs} ms)`;
          }, opts.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(new InfraToolError(`'${cmd}' was not found on PATH. ${installHint(cmd)}`));
      } else {
        reject(err);
      }
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

function installHint(cmd: string): string {
  switch (cmd) {
    case 'mvn':
      return 'Install Apache Maven (Debian: apt-get install -y maven), or run .ci/run which installs it.';
    case 'java':
    case 'javac':
      return `Install a JDK ${MIN_JAVA}+ (Debian: apt-get install -y openjdk-${MIN_JAVA}-jdk-headless), or run .ci/run which installs it.`;
    default:
      return '';
  }
}

/** Checks that `java` is a JDK/JRE >= 17 and returns its feature release number. */
export async function checkJava(): Promise<number> {
  const r = await run('java', ['-version'], { timeoutMs: 30_000 });
  const text = r.stderr + r.stdout;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (r.code !== 0 || !m?.[1]) {
    throw new InfraToolError(`'java -version' failed (exit ${r.code}): ${text.trim()}. ${installHint('java')}`);
  }
  let major = Number(m[1]);
  if (major === 1 && m[2]) major = Number(m[2]); // 1.8 style
  if (major < MIN_JAVA) {
    throw new InfraToolError(`java ${major} found, but Kafka 4.x and mongo-java-server need ${MIN_JAVA}+. ${installHint('java')}`);
  }
  return major;
}

export async function checkMaven(): Promise<string> {
  const r = await run('mvn', ['-v', '-B'], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    throw new InfraToolError(`'mvn -v' failed (exit ${r.code}): ${(r.stderr + r.stdout).trim()}. ${installHint('mvn')}`);
  }
  return (/Apache Maven ([^\s]+)/.exec(r.stdout)?.[1] ?? 'unknown').replace(/\x1b\[[0-9;]*m/g, '');
}

async function copyDependencies(profile: 'kafka' | 'mongo', outDir: string): Promise<void> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(tmp), { recursive: true });
  const args = [
    '-q',
    '-B',
    '-f',
    POM_FILE,
    '-P',
    profile,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${tmp}`,
  ];
  const r = await run('mvn', args, { timeoutMs: 15 * 60_000 });
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    const out = (r.stdout + '\n' + r.stderr).trim().split('\n').slice(-40).join('\n');
    throw new Error(`mvn ${args.join(' ')} failed (exit ${r.code}):\n${out}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
}

/**
 * Returns how to launch MongoServerMain: the compiled class when it is up to date with the source
 * (compiling it with javac when needed), else a single-file source launch.
 */
export async function ensureMongoLauncher(paths = infraPaths()): Promise<{ classpath: string; main: string[] }> {
  const libs = join(paths.mongoLibs, '*');
  const source = readFileSync(MONGO_LAUNCHER_SOURCE);
  const stamp = join(paths.mongoClasses, '.source-sha256');
  const wanted = sha256(source);
  const upToDate = () =>
    existsSync(join(paths.mongoClasses, 'MongoServerMain.class')) &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8').trim() === wanted;
  if (!upToDate()) {
    const tmp = `${paths.mongoClasses}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const r = await run('javac', ['-nowarn', '-d', tmp, '-cp', libs, MONGO_LAUNCHER_SOURCE], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`javac MongoServerMain.java failed (exit ${r.code}):\n${(r.stderr + r.stdout).trim()}`);
      writeFileSync(join(tmp, '.source-sha256'), wanted + '\n');
      rmSync(paths.mongoClasses, { recursive: true, force: true });
      renameSync(tmp, paths.mongoClasses);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (err instanceof InfraToolError) {
        // a JRE without javac: Java's single-file source launcher still works (slower start)
        return { classpath: libs, main: [MONGO_LAUNCHER_SOURCE] };
      }
      throw err;
    }
  }
  return { classpath: `${paths.mongoClasses}:${libs}`, main: ['MongoServerMain'] };
}

/**
 * Downloads the jars unless the cache already holds the pinned versions.
 * Throws InfraToolError when mvn or java is missing, Error when Maven fails (its output is in the message).
 */
export async function fetchInfra(
  opts: { force?: boolean; cacheDir?: string; log?: (line: string) => void } = {},
): Promise<FetchResult> {
  const log = opts.log ?? (() => {});
  const paths = infraPaths(opts.cacheDir);
  const versions = readPomVersions();
  const started = Date.now();
  if (!opts.force && isFetched(paths)) {
    await ensureMongoLauncher(paths);
    log(`infra jars already in ${paths.cacheDir} (kafka ${versions.kafka}, mongo-java-server ${versions.mongoJavaServer})`);
    const keycloak = await fetchKeycloak({ ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), log });
    return { skipped: keycloak.skipped, versions, paths, millis: Date.now() - started };
  }
  const javaMajor = await checkJava();
  const mvnVersion = await checkMaven();
  log(`fetching with Maven ${mvnVersion} (java ${javaMajor}) into ${paths.cacheDir}`);
  mkdirSync(paths.cacheDir, { recursive: true });
  rmSync(paths.marker, { force: true });

  let t = Date.now();
  await copyDependencies('kafka', paths.kafkaLibs);
  log(`  kafka_2.13 ${versions.kafka} + log4j ${versions.log4j}: ${readdirSync(paths.kafkaLibs).length} jars (${Date.now() - t} ms)`);
  t = Date.now();
  await copyDependencies('mongo', paths.mongoLibs);
  log(`  mongo-java-server ${versions.mongoJavaServer} (memory + h2): ${readdirSync(paths.mongoLibs).length} jars (${Date.now() - t} ms)`);
  t = Date.now();
  rmSync(paths.mongoClasses, { recursive: true, force: true });
  await ensureMongoLauncher(paths);
  log(`  compiled MongoServerMain.java (${Date.now() - t} ms)`);

  await fetchKeycloak({ force: opts.force ?? false, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), log });

  const millis = Date.now() - started;
  const marker: FetchMarker = {
    versions,
    pomSha256: sha256(readFileSync(POM_FILE)),
    fetchedAt: new Date().toISOString(),
    fetchMillis: millis,
  };
  writeFileSync(paths.marker, JSON.stringify(marker, null, 2) + '\n');
  log(`infra jars fetched in ${millis} ms`);
  return { skipped: false, versions, paths, millis };
}

// ---------------------------------------------------------------------------------------------------------
// Keycloak (the bank's authorization server in the Keycloak tests): org.keycloak:keycloak-quarkus-dist, a zip
// on Maven Central, unpacked into .cache/infra/keycloak/keycloak-<version> and built once ("kc.sh build")
// with the build-time options below, so that every start is `start --optimized` (no augmentation).
// Its own marker (.cache/infra/keycloak/fetched.json): a Keycloak upgrade refetches only Keycloak.

/** Pinned like the jars in pom.xml; `KEYCLOAK_BUILD_OPTIONS` are Keycloak's build-time options. */
export const KEYCLOAK_VERSION = '26.7.3';
export const KEYCLOAK_BUILD_OPTIONS = [
  // an H2 file per run under the run's own home (test data only)
  '--db=dev-file',
  // /health/ready on the management port: the readiness probe
  '--health-enabled=true',
  // mutual TLS requested (not required): tls_client_auth and certificate-bound tokens need the client certificate
  '--https-client-auth=request',
] as const;

export interface KeycloakPaths {
  dir: string;
  /** the unpacked, built distribution (read-only at run time: each run links it into a home of its own) */
  dist: string;
  marker: string;
}

interface KeycloakMarker {
  version: string;
  buildOptions: string[];
  fetchedAt: string;
  fetchMillis: number;
}

export function keycloakPaths(cacheDir?: string): KeycloakPaths {
  const dir = join(infraPaths(cacheDir).cacheDir, 'keycloak');
  return { dir, dist: join(dir, `keycloak-${KEYCLOAK_VERSION}`), marker: join(dir, 'fetched.json') };
}

export function isKeycloakFetched(paths = keycloakPaths()): boolean {
  try {
    const marker = JSON.parse(readFileSync(paths.marker, 'utf8')) as KeycloakMarker;
    return (
      marker.version === KEYCLOAK_VERSION &&
      JSON.stringify(marker.buildOptions) === JSON.stringify(KEYCLOAK_BUILD_OPTIONS) &&
      existsSync(join(paths.dist, 'lib', 'quarkus-run.jar')) &&
      existsSync(join(paths.dist, 'lib', 'quarkus', 'quarkus-application.dat'))
    );
  } catch {
    return false;
  }
}

/** Downloads, unpacks and builds Keycloak unless the cache holds this version built with these options. */
export async function fetchKeycloak(opts: { force?: boolean; cacheDir?: string; log?: (line: string) => void } = {}): Promise<{ skipped: boolean; millis: number; paths: KeycloakPaths }> {
  const log = opts.log ?? (() => {});
  const paths = keycloakPaths(opts.cacheDir);
  const started = Date.now();
  if (!opts.force && isKeycloakFetched(paths)) {
    log(`keycloak ${KEYCLOAK_VERSION} already in ${paths.dist}`);
    return { skipped: true, millis: 0, paths };
  }
  await checkJava();
  await checkMaven();
  const tmp = join(paths.dir, `.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    let t = Date.now();
    const artifact = `org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`;
    const copy = await run('mvn', ['-q', '-B', 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${tmp}`], { cwd: tmp, timeoutMs: 15 * 60_000 });
    if (copy.code !== 0) throw new Error(`mvn dependency:copy ${artifact} failed (exit ${copy.code}):\n${(copy.stdout + '\n' + copy.stderr).trim().split('\n').slice(-30).join('\n')}`);
    log(`  ${artifact} downloaded (${Date.now() - t} ms)`);
    t = Date.now();
    // `jar` comes with the JDK the infrastructure needs anyway (no unzip dependency)
    const unpack = await run('jar', ['xf', join(tmp, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`)], { cwd: tmp, timeoutMs: 5 * 60_000 });
    if (unpack.code !== 0) throw new Error(`unpacking Keycloak failed (exit ${unpack.code}): ${(unpack.stderr + unpack.stdout).trim()}`);
    rmSync(join(tmp, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`), { force: true });
    const dist = join(tmp, `keycloak-${KEYCLOAK_VERSION}`);
    log(`  unpacked (${Date.now() - t} ms); building with ${KEYCLOAK_BUILD_OPTIONS.join(' ')} (about a minute)`);
    t = Date.now();
    const build = await run('/bin/sh', [join(dist, 'bin', 'kc.sh'), 'build', ...KEYCLOAK_BUILD_OPTIONS], { cwd: dist, timeoutMs: 15 * 60_000 });
    if (build.code !== 0) throw new Error(`kc.sh build failed (exit ${build.code}):\n${(build.stdout + '\n' + build.stderr).trim().split('\n').slice(-30).join('\n')}`);
    // the build leaves its own data dir (truststore, transaction logs): runs use homes of their own
    rmSync(join(dist, 'data'), { recursive: true, force: true });
    log(`  built (${Date.now() - t} ms)`);
    rmSync(paths.dist, { recursive: true, force: true });
    renameSync(dist, paths.dist);
    const marker: KeycloakMarker = { version: KEYCLOAK_VERSION, buildOptions: [...KEYCLOAK_BUILD_OPTIONS], fetchedAt: new Date().toISOString(), fetchMillis: Date.now() - started };
    writeFileSync(paths.marker, JSON.stringify(marker, null, 2) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const millis = Date.now() - started;
  log(`keycloak ${KEYCLOAK_VERSION} fetched and built in ${millis} ms`);
  return { skipped: false, millis, paths };
}
