/**
 * Test infrastructure CLI (npm run infra -- <command>):
 *
 *   fetch [--force]   download Kafka + mongo-java-server jars and Keycloak into .cache/infra (skipped when present)
 *   up [--keycloak]   start Kafka, mongo-java-server and redis-server on free ports (and Keycloak, with realm
 *                     `obie` set up), print DCR_MONGO_URL=… DCR_REDIS_URL=… DCR_KAFKA_BROKERS=… (and the
 *                     DCR_KEYCLOAK_* / DCR_AS_* lines and the test CA) and keep running until Ctrl-C
 *                     (SIGINT/SIGTERM), then stop them.
 */
import { Command, Option } from 'commander';
import { fetchInfra, InfraToolError } from '../testkit/fetch.js';
import { readFileSync } from 'node:fs';
import { startInfra, type Infra } from '../testkit/servers.js';
import { setUpKeycloakRealm } from '../testkit/keycloak-realm.js';

const say = (line: string) => process.stderr.write(`[infra] ${line}\n`);

const program = new Command()
  .name('infra')
  .description('Kafka (KRaft), mongo-java-server and redis-server for integration and chaos tests')
  .showHelpAfterError();

program
  .command('fetch')
  .description('download the jars into .cache/infra (idempotent)')
  .option('--force', 'download again even when the jars are present', false)
  .action(async (o: { force: boolean }) => {
    try {
      const r = await fetchInfra({ force: o.force, log: say });
      say(
        r.skipped
          ? `nothing to do (kafka ${r.versions.kafka}, mongo-java-server ${r.versions.mongoJavaServer})`
          : `done in ${(r.millis / 1000).toFixed(1)} s: kafka ${r.versions.kafka}, mongo-java-server ${r.versions.mongoJavaServer}`,
      );
    } catch (err) {
      process.stderr.write(
        `\nERROR: fetching the test infrastructure failed${err instanceof InfraToolError ? ' (missing tool)' : ''}:\n${
          err instanceof Error ? err.message : String(err)
        }\n`,
      );
      process.exitCode = 1;
    }
  });

program
  .command('up')
  .description('start all three servers on free ports and print their URLs; Ctrl-C stops them')
  .addOption(new Option('--mongo-backend <backend>', 'mongo-java-server backend').choices(['memory', 'h2']).default('memory'))
  .option('--redis-appendonly', 'redis with an append-only file', false)
  .option('--work-dir <dir>', 'logs and data (default .cache/infra/run/<time>-<pid>, removed on exit)')
  .option('--keep', 'keep the work dir on exit', false)
  .option('--keycloak', 'also start Keycloak (HTTPS, mTLS requested, a test CA) and set up realm obie', false)
  .option('--keycloak-directory <dataDir>', "start Keycloak with this sandbox directory's CA (DCR_DATA_DIR of npm start, e.g. var); implies --keycloak")
  .action(async (o: { mongoBackend: 'memory' | 'h2'; redisAppendonly: boolean; workDir?: string; keep: boolean; keycloak: boolean; keycloakDirectory?: string }) => {
    let infra: Infra;
    const t0 = Date.now();
    try {
      infra = await startInfra({
        kafka: true,
        mongo: { backend: o.mongoBackend },
        redis: { appendonly: o.redisAppendonly },
        keycloak: o.keycloak || o.keycloakDirectory ? (o.keycloakDirectory ? { directoryDataDir: o.keycloakDirectory } : true) : false,
        log: say,
        keepWorkDir: o.keep,
        ...(o.workDir ? { workDir: o.workDir } : {}),
      });
    } catch (err) {
      process.stderr.write(`\nERROR: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
    say(`all ready in ${Date.now() - t0} ms; logs in ${infra.workDir}/logs`);
    process.stdout.write(
      `DCR_MONGO_URL=${infra.mongoUrl}\nDCR_REDIS_URL=${infra.redisUrl}\nDCR_KAFKA_BROKERS=${infra.kafkaBrokers}\n`,
    );
    if (infra.keycloakInfo) {
      const k = infra.keycloakInfo;
      try {
        const realm = await setUpKeycloakRealm({ url: k.url, caPem: readFileSync(k.caCertFile, 'utf8'), username: k.adminUsername, password: k.adminPassword }, { realm: 'obie' });
        process.stdout.write(
          [
            'DCR_AS_PROVISIONING=keycloak',
            `DCR_KEYCLOAK_URL=${k.url}`,
            `DCR_KEYCLOAK_REALM=${realm.realm}`,
            `DCR_KEYCLOAK_CLIENT_ID=${realm.clientId}`,
            `DCR_KEYCLOAK_CLIENT_SECRET=${realm.clientSecret}`,
            `DCR_AS_ISSUER=${realm.issuer}`,
            `DCR_AS_JWKS_URL=${realm.jwksUrl}`,
            `DCR_OUTBOUND_CA_FILE=${k.caCertFile}`,
            `# Keycloak admin console: ${k.url}/admin (${k.adminUsername} / ${k.adminPassword}); test CA key: ${k.caKeyFile}`,
            '',
          ].join('\n'),
        );
      } catch (err) {
        process.stderr.write(`\nERROR: setting up the Keycloak realm failed: ${err instanceof Error ? err.message : String(err)}\n`);
        await infra.stop();
        process.exit(1);
      }
    }
    say('press Ctrl-C to stop');
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        say(`${signal} again: exiting now`);
        process.exit(130); // the exit hook SIGKILLs the servers
      }
      stopping = true;
      say(`${signal}: stopping…`);
      infra.stop().then(
        () => {
          say('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          say(`stop failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGHUP', () => shutdown('SIGHUP'));
    // keep the event loop alive
    setInterval(() => {
      for (const s of infra.servers) {
        if (!s.running && !stopping) {
          say(`${s.name} exited unexpectedly; see ${s.logFile}`);
          shutdown('server exit');
          return;
        }
      }
    }, 1000);
  });

await program.parseAsync(process.argv);
