/**
 * `npx tsx bench/wal-burst.ts [root]`: what a burst of writes (≈ 1.2 GB of WAL in one transaction,
 * as a bulk replay or a retention backlog can leave) costs the requests that follow it: then 10 s of
 * small durable writes every 5 ms, as a trickle of registrations, with the event loop's delay
 * monitored. The WAL checkpointer (platform/adapters/embedded/wal-checkpointer.ts) copies the burst
 * on its own thread; what it blocks the writer for shows as the longest stall. `root`: the checkout
 * whose code runs (default this one), for before/after runs. One JSON line.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const { openEmbeddedDatabase } = (await import(pathToFileURL(join(root, 'platform/adapters/embedded/database.ts')).href)) as typeof import('../platform/adapters/embedded/database.js');
const dir = mkdtempSync(join(tmpdir(), 'dcr-wal-burst-'));
const db = openEmbeddedDatabase(dir);
try {
  const insert = db.sqlite.prepare('INSERT INTO jtis (key, request_id, expires_at) VALUES (?, ?, ?)');
  const pad = 'x'.repeat(3000);
  await db.commits.durable(() => {
    for (let i = 0; i < 300_000; i++) insert.run(`k${i}`, pad, i);
  });
  const walMb = () => Math.round(statSync(join(dir, 'dcr.sqlite-wal')).size / 2 ** 20);
  const burstMb = walMb();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const t0 = Date.now();
  let writes = 0;
  while (Date.now() - t0 < 10_000) {
    await db.commits.durable(() => insert.run(`s${writes++}`, 'y', 1));
    await new Promise((r) => setTimeout(r, 5));
  }
  delay.disable();
  console.log(JSON.stringify({ root, burstWalMb: burstMb, writes, longestStallMs: Math.round(delay.max / 1e6), p99DelayMs: Math.round(delay.percentile(99) / 1e6), walMbAfter: walMb() }));
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
