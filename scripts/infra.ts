/**
 * Test infrastructure CLI (npm run infra -- <command>):
 *
 *   fetch [--force]   download Kafka + mongo-java-server jars into .cache/infra (skipped when present)
 *   up                start Kafka, mongo-java-server and redis-server on free ports, print
 *                       DCR_MONGO_URL=… DCR_REDIS_URL=… DCR_KAFKA_BROKERS=…
 *                     and keep running until Ctrl-C (SIGINT/SIGTERM), then stop them.
 */
import { Command, Option } from 'commander';
import { fetchInfra, InfraToolError } from './infra/fetch.js';
import { startInfra, type Infra } from './infra/servers.js';

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
  .action(async (o: { mongoBackend: 'memory' | 'h2'; redisAppendonly: boolean; workDir?: string; keep: boolean }) => {
    let infra: Infra;
    const t0 = Date.now();
    try {
      infra = await startInfra({
        kafka: true,
        mongo: { backend: o.mongoBackend },
        redis: { appendonly: o.redisAppendonly },
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
