/**
 * `npm run fuzz` (tsx test/fuzz/run.ts [--count N] [--seed S] [--concurrency C]): the HTTP surface
 * fuzzer of test/fuzz/engine.ts against the embedded pipeline, 100 000 inputs by default. Prints the
 * answers by status and by input kind, RSS before and after, and exits non-zero on any 5xx, any input
 * without an HTTP answer, any error that is not JSON, or a pipeline that stopped serving.
 */
import { parseArgs } from 'node:util';
import { startTestPipeline } from '../support/pipeline.js';
import { FuzzClient, runFuzz } from './engine.js';
import { FUZZ_ENV, fuzzSeeds } from './setup.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(0xf022) },
    concurrency: { type: 'string', default: '16' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

const pipeline = await startTestPipeline({ env: FUZZ_ENV });
let failed = false;
try {
  const tpp = await pipeline.createTpp('fuzzer');
  const seeds = await fuzzSeeds(pipeline, tpp);
  const client = new FuzzClient(pipeline.intakeUrl, tpp.identity, concurrency);
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  console.log(`fuzzing ${pipeline.intakeUrl}: ${count} inputs, seed ${seed}, concurrency ${concurrency}, RSS ${mib(rssBefore)}`);
  const result = await runFuzz(client, seeds, {
    seed,
    count,
    concurrency,
    batch: 1000,
    onProgress: (done, r) => {
      if (done % 10_000 === 0 || done === count) {
        console.log(`  ${done} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s, RSS ${mib(process.memoryUsage().rss)}, statuses ${JSON.stringify(r.byStatus)}`);
      }
    },
  });
  client.close();
  const live = await tpp.get('/health/live');
  const ready = await tpp.get('/health/ready');
  const registration = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
  const rssAfter = process.memoryUsage().rss;
  console.log('\nresult');
  console.log(`  inputs          ${result.total} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`  by status       ${JSON.stringify(result.byStatus)}`);
  console.log(`  not sent        ${JSON.stringify(result.notSent)} (refused by Node's HTTP client itself)`);
  console.log(`  by input kind   ${JSON.stringify(result.byKind)}`);
  console.log(`  5xx             ${result.serverErrors.length}`);
  console.log(`  non-JSON errors ${result.nonJsonErrorCount}`);
  console.log(`  no HTTP answer  ${JSON.stringify(result.transportErrors)}`);
  console.log(`  HEAD + bad request line, answered 400 with a body: ${JSON.stringify(result.headAnsweredWithBody)}`);
  console.log(`  keep-alive races retried once: ${client.keepAliveRetries}`);
  console.log(`  RSS             before ${mib(rssBefore)}, after ${mib(rssAfter)} (pipeline and fuzzer share this process)`);
  console.log(`  afterwards      health/live ${live.status}, health/ready ${ready.status}, a genuine registration ${registration.status}`);
  for (const e of result.transportErrorSamples) console.log(`  no answer: ${JSON.stringify(e)}`);
  for (const e of result.serverErrors.slice(0, 20)) console.log(`  5xx: ${JSON.stringify(e)}`);
  for (const e of result.nonJsonErrors.slice(0, 20)) console.log(`  non-JSON: ${JSON.stringify(e)}`);
  failed =
    result.serverErrors.length > 0 ||
    result.nonJsonErrorCount > 0 ||
    Object.keys(result.transportErrors).length > 0 ||
    live.status !== 200 ||
    ready.status !== 200 ||
    registration.status !== 202;
  console.log(failed ? '\nFAIL' : '\nOK');
} finally {
  await pipeline.stop();
}
process.exit(failed ? 1 : 0);
