/**
 * vitest globalSetup: starts Kafka, mongo-java-server and a private redis-server once for the whole run
 * (test/support/infra.ts) and provides their addresses as `inject('infra')`.
 *
 * DCR_TEST_INFRA:
 *   off       start nothing; inject('infra') is null and integration tests skip themselves.
 *             Not allowed when CI is set (the run fails).
 *   required  a server that fails to start fails the whole run with the reason (the default when CI is set).
 *   auto      (default outside CI) try; when a server cannot start, print the reason loudly and provide null,
 *             so that unit tests still run on a machine without Java/Maven/redis-server.
 * DCR_INFRA_KEEP=1 keeps the work dir (logs, data) after the run.
 * DCR_TEST_KEYCLOAK=off leaves Keycloak out (its tests skip; not allowed when CI is set). Otherwise Keycloak
 * starts in parallel with the others (~50 s, ~525 MB) and realm `obie` is set up (test/support/keycloak.ts).
 */
import type { TestProject } from 'vitest/node';
import type { ProvidedInfra } from '../support/infra-context.js';
import { startInfra, type Infra } from '../support/infra.js';
import { setUpKeycloakRealm } from '../support/keycloak.js';
import { readFileSync } from 'node:fs';

type Mode = 'off' | 'auto' | 'required';

function isCI(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function resolveMode(): Mode {
  const raw = (process.env['DCR_TEST_INFRA'] ?? '').trim().toLowerCase();
  const ci = isCI();
  if (raw === 'off' || raw === '0' || raw === 'false' || raw === 'no') {
    if (ci) {
      throw new Error(
        'DCR_TEST_INFRA=off is not allowed when CI is set: CI must run the integration tests against real Kafka, MongoDB and Redis.',
      );
    }
    return 'off';
  }
  if (raw === 'required' || raw === 'on' || raw === '1' || raw === 'true' || raw === 'yes') return 'required';
  if (raw === '' || raw === 'auto') return ci ? 'required' : 'auto';
  throw new Error(`DCR_TEST_INFRA=${raw} is not one of off, auto, required`);
}

const say = (line: string) => process.stderr.write(`[infra] ${line}\n`);

function keycloakWanted(): boolean {
  const raw = (process.env['DCR_TEST_KEYCLOAK'] ?? '').trim().toLowerCase();
  if (raw === 'off' || raw === '0' || raw === 'false' || raw === 'no') {
    if (isCI()) throw new Error('DCR_TEST_KEYCLOAK=off is not allowed when CI is set: CI must run the Keycloak tests against a real Keycloak.');
    return false;
  }
  return true;
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const mode = resolveMode();
  if (mode === 'off') {
    say('DCR_TEST_INFRA=off: no Kafka/Mongo/Redis; integration tests are skipped');
    project.provide('infra', null);
    return undefined;
  }

  const t0 = Date.now();
  const withKeycloak = keycloakWanted();
  let infra: Infra | undefined;
  let keycloak: ProvidedInfra['keycloak'] = null;
  try {
    infra = await startInfra({ kafka: true, mongo: true, redis: true, keycloak: withKeycloak, log: say });
    if (infra.keycloakInfo) {
      const k = infra.keycloakInfo;
      const realm = await setUpKeycloakRealm(
        { url: k.url, caPem: readFileSync(k.caCertFile, 'utf8'), username: k.adminUsername, password: k.adminPassword },
        { realm: 'obie' },
      );
      keycloak = { ...k, realm: realm.realm, issuer: realm.issuer, jwksUrl: realm.jwksUrl, clientId: realm.clientId, clientSecret: realm.clientSecret };
      say(`keycloak realm ${realm.realm} set up (issuer ${realm.issuer})`);
    }
  } catch (err) {
    await infra?.stop().catch(() => {});
    const reason = err instanceof Error ? err.message : String(err);
    if (mode === 'required') {
      const banner = `\n${'='.repeat(100)}\nTEST INFRASTRUCTURE FAILED TO START${isCI() ? ' (CI)' : ''}: the run is aborted.\n${reason}\n${'='.repeat(100)}\n`;
      process.stderr.write(banner);
      throw new Error(`test infrastructure failed to start: ${reason}`, { cause: err });
    }
    process.stderr.write(
      `\n${'!'.repeat(100)}\n` +
        `WARNING: test infrastructure could not start; integration tests will be SKIPPED.\n` +
        `(set DCR_TEST_INFRA=required to make this fatal; CI always does)\n${reason}\n` +
        `${'!'.repeat(100)}\n\n`,
    );
    project.provide('infra', null);
    return undefined;
  }

  const started = infra;
  const provided: ProvidedInfra = {
    mongoUrl: started.mongoUrl!,
    redisUrl: started.redisUrl!,
    kafkaBrokers: started.kafkaBrokers!,
    keycloak,
  };
  project.provide('infra', provided);
  say(`all servers ready in ${Date.now() - t0} ms (work dir ${started.workDir})`);

  return async () => {
    const t = Date.now();
    await started.stop();
    say(`servers stopped in ${Date.now() - t} ms`);
  };
}
