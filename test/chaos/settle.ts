/**
 * The settle phase, after the load and the faults: wait until nothing is in flight (no registration in
 * a stage, no outbox entry left), then bulk-replay the `failed` ones through the ops admin API
 * (`POST /admin/replay`, what `dcr ops replay --all` sends), and again, for at most `maxRounds` rounds
 * and `timeoutMs` in all. Then wait for the stage queues to be empty. Everything is read from MongoDB
 * and Redis themselves; a phase that does not get there in time says so (`timedOut`) and the
 * invariants show what was left.
 */
import type { MongoClient } from 'mongodb';
import { REGISTRATION_STATUSES, SETTLED_STATUSES, STAGES } from '../../core/domain/registration.js';
import type { ChaosCluster } from './cluster.js';
import { queueCounts } from './invariants.js';

export interface SettleRound {
  /** ms from the start of the settle phase until nothing was in flight */
  quietAfterMs: number | null;
  failed: number;
  replayed: number;
  skipped: number;
  /** the bulk replay call failed (e.g. the admin API closed the connection while the replay went on) */
  replayError?: string;
}

export interface SettleResult {
  rounds: SettleRound[];
  timedOut: boolean;
  wallMs: number;
  /** still in flight when the phase ended (by status) */
  leftInFlight: Record<string, number>;
}

const IN_FLIGHT = REGISTRATION_STATUSES.filter((s) => !SETTLED_STATUSES.includes(s));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function settle(
  cluster: ChaosCluster,
  mongo: MongoClient,
  options: { timeoutMs: number; maxRounds: number; log: (line: string) => void },
): Promise<SettleResult> {
  const t0 = Date.now();
  const deadline = t0 + options.timeoutMs;
  const db = mongo.db();
  const registrations = db.collection(`${cluster.namespace}_registrations`);
  const clients = db.collection(`${cluster.namespace}_clients`);
  const pending = { 'outbox.0': { $exists: true } };

  const inFlight = async () => {
    const rows = await registrations.aggregate<{ _id: string; n: number }>([{ $match: { status: { $in: IN_FLIGHT } } }, { $group: { _id: '$status', n: { $sum: 1 } } }]).toArray();
    return Object.fromEntries(rows.map((r) => [r._id, r.n]));
  };
  let lastLine = 0;
  /** until no registration is in a stage and no outbox entry is left; false on the deadline */
  const quiet = async (): Promise<boolean> => {
    for (;;) {
      try {
        const flying = await inFlight();
        const total = Object.values(flying).reduce((a, b) => a + b, 0);
        const outbox = (await registrations.countDocuments(pending)) + (await clients.countDocuments(pending));
        if (total === 0 && outbox === 0) return true;
        if (Date.now() - lastLine > 10_000) {
          lastLine = Date.now();
          options.log(`settle: ${total} in flight ${JSON.stringify(flying)}, ${outbox} documents with outbox entries`);
        }
      } catch (error) {
        options.log(`settle: store not readable yet (${error instanceof Error ? error.message : String(error)})`);
      }
      if (Date.now() > deadline) return false;
      await sleep(500);
    }
  };

  const rounds: SettleRound[] = [];
  let timedOut = false;
  for (let round = 0; ; round++) {
    const roundStart = Date.now();
    const ok = await quiet();
    const failed = await registrations.countDocuments({ status: 'failed' });
    const entry: SettleRound = { quietAfterMs: ok ? Date.now() - roundStart : null, failed, replayed: 0, skipped: 0 };
    rounds.push(entry);
    if (!ok) {
      timedOut = true;
      break;
    }
    if (failed === 0) break;
    if (round >= options.maxRounds) break;
    try {
      const result = await cluster.admin<{ matched: number; replayed: number; skipped: number }>('POST', '/admin/replay', { status: 'failed' });
      entry.replayed = result.replayed;
      entry.skipped = result.skipped;
      options.log(`settle: round ${round + 1}: ${failed} failed, replayed ${result.replayed} (skipped ${result.skipped})`);
    } catch (error) {
      // The replay may still be running server-side (a long bulk replay outlives the admin API's idle
      // socket timeout): the next round waits for quiet again and replays whatever is still `failed`.
      entry.replayError = error instanceof Error ? error.message : String(error);
      options.log(`settle: round ${round + 1}: ${failed} failed; the bulk replay call failed: ${entry.replayError}`);
    }
  }

  // the stage queues drain after the last transition (completed jobs are moved off the active list)
  if (!timedOut) {
    for (;;) {
      const counts = await queueCounts(cluster.redisUrl, cluster.namespace, [...STAGES]).catch(() => null);
      if (counts && Object.values(counts).every((c) => c.waiting + c.active + c.delayed + c.prioritized === 0)) break;
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      await sleep(500);
    }
  }
  const leftInFlight = await inFlight().catch(() => ({}));
  return { rounds, timedOut, wallMs: Date.now() - t0, leftInFlight };
}
