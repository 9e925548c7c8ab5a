/**
 * Counts what one registration costs the embedded store in fsyncs: starts the embedded pipeline,
 * creates 2 TPPs and submits N registrations one after another. Run it under strace twice and
 * subtract (bench/results/fsync-count.txt):
 *   strace -f -c -e trace=fsync,fdatasync -o /tmp/s5.txt  npx tsx bench/count-fsyncs.ts 5
 *   strace -f -c -e trace=fsync,fdatasync -o /tmp/s35.txt npx tsx bench/count-fsyncs.ts 35
 */
import { httpsRequest } from '../sandbox/tpp-client/https-client.js';
import { createTpps, signedRequests } from './fixtures.js';
import { startEmbeddedPipeline } from './pipeline.js';

const count = Number.parseInt(process.argv[2] ?? '10', 10);
const pipeline = await startEmbeddedPipeline();
const tpps = await createTpps(pipeline.directory, 2, pipeline.audience, 'fsync');
for (const r of await signedRequests(tpps, count)) {
  const res = await httpsRequest(`${pipeline.origin}/register`, {
    method: 'POST',
    body: r.body,
    headers: { 'content-type': 'application/jwt' },
    identity: tpps.identities[r.identity],
  });
  if (res.status !== 201) process.stderr.write(`unexpected ${res.status}: ${res.text}\n`);
}
await new Promise((resolve) => setTimeout(resolve, 1500));
await pipeline.stop();
process.exit(0);
