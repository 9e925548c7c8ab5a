/**
 * `npx tsx bench/retention-backlog.ts [N] [batch]`: how a retention pass behaves on a backlog, as
 * after an upgrade to a release with retention or a long pause of the purger: N registered requests
 * older than the token delivery window (default 100 000, ≈ 8 kB of parts each, written straight into
 * a fresh embedded database), then up to three retention passes as the purger runs them (its rounds
 * of `batch` requests, default the purger's, each a synchronous transaction on the event loop). Prints
 * each pass and, as JSON, the longest event-loop stall (what a request served meanwhile would wait)
 * and the 99th percentile of the event-loop delay over the passes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { uuidV7 } from '../core/domain/ids.js';
import { openEmbeddedDatabase } from '../platform/adapters/embedded/database.js';
import { SqliteStore } from '../platform/adapters/embedded/sqlite-store.js';
import { RetentionPurger } from '../core/retention/purger.js';

const N = Number.parseInt(process.argv[2] ?? '100000', 10);
const batch = Number.parseInt(process.argv[3] ?? '0', 10);
const dir = mkdtempSync(join(tmpdir(), 'dcr-retention-'));
const db = openEmbeddedDatabase(dir);
try {
  const store = new SqliteStore(db);
  const start = Date.now() - 2 * 365 * 86_400_000;
  const insert = db.sqlite.prepare('INSERT INTO registrations (id, submission_key, status, submitted_at, updated_at, last_error, version, doc, tpp) VALUES (?, ?, ?, ?, ?, NULL, 5, ?, ?)');
  const part = db.sqlite.prepare('INSERT INTO registration_parts (id, part, value) VALUES (?, ?, ?)');
  const body = JSON.stringify('e'.repeat(3000));
  const verified = JSON.stringify({ ssa: { blob: 'v'.repeat(3000) }, metadata: {}, signingKid: 'k', softwareJwksUri: 'https://x', orgId: 'o', softwareId: 's' });
  const t0 = performance.now();
  db.sqlite.transaction(() => {
    for (let i = 0; i < N; i++) {
      const at = start + i * 60_000;
      const id = uuidV7(at);
      const iso = new Date(at).toISOString();
      const doc = JSON.stringify({ id, kind: 'create', status: 'registered', generation: 0, submissionKey: `k-${id}`, contentType: 'application/jwt', submittedAt: iso, updatedAt: iso, clientId: `c${i}`, sealedToken: 's'.repeat(120), tokenHash: 'h', attempts: { verify: 1, revocation: 1, provision: 1 }, history: [{ at: iso, event: 'transition', to: 'registered' }], version: 5 });
      insert.run(id, `k-${id}`, 'registered', iso, iso, doc, 'org');
      part.run(id, 'body', body);
      part.run(id, 'verified', verified);
      part.run(id, 'certificate', JSON.stringify({ pem: 'p'.repeat(1500), thumbprint: 't', subjectDn: 'CN=x', issuerDn: 'CN=ca', serialNumber: '01', tppIdentity: 'org' }));
    }
  })();
  // The load is set-up, not what is measured: its WAL goes into the database file before the passes.
  db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  console.log(`loaded ${N} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const now = Date.now();
  const purger = new RetentionPurger(
    store,
    { rejectedSeconds: 86_400, resultTtlSeconds: 86_400, auditSeconds: 157_788_000, intervalMs: 0 },
    { owner: 'bench', ...(batch ? { batch } : {}) },
  );
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  let passes = 0;
  let compacted = 0;
  let longestPass = 0;
  const all = performance.now();
  for (;;) {
    const p0 = performance.now();
    const report = await purger.runOnce(now);
    longestPass = Math.max(longestPass, performance.now() - p0);
    passes += 1;
    compacted += report?.compacted ?? 0;
    console.log(`pass ${passes}: ${report?.compacted ?? 0} compacted in ${((performance.now() - p0) / 1000).toFixed(1)} s`);
    if (!report?.compacted || compacted >= N || passes >= 3) break;
  }
  stalls.disable();
  console.log(
    JSON.stringify({
      registrations: N,
      batch: batch || 'default',
      passes,
      compacted,
      longestPassSeconds: Number((longestPass / 1000).toFixed(1)),
      longestEventLoopStallMs: Math.round(stalls.max / 1e6),
      p99EventLoopDelayMs: Math.round(stalls.percentile(99) / 1e6),
      seconds: Number(((performance.now() - all) / 1000).toFixed(1)),
    }),
  );
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
