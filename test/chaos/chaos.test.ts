/**
 * The short chaos variant inside `npm test` (the full one is `npm run chaos`): its OWN Kafka,
 * mongo-java-server (H2 file backend) and Redis (AOF) — it kills and restarts them, so it cannot use
 * the shared servers of the global setup — and the distributed pipeline as separate processes (two
 * verifiers); a few hundred registrations while each fault of SHORT_FAULTS happens once (each worker
 * type SIGKILLed and restarted, Redis, MongoDB and Kafka SIGKILLed and restarted, the directory down
 * for 20 s, one verifier paused past its BullMQ lease, MongoDB blackholed mid-write and healed). The
 * result file goes to test-output/chaos-short.json (not committed).
 */
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runChaos, shortRunOptions, SHORT_FAULTS } from './suite.js';

// The same switch as every integration suite: DCR_TEST_INFRA=off (outside CI) skips it.
const infraAvailable = inject('infra') !== null;

describe.skipIf(!infraAvailable)('chaos (short): the distributed pipeline under SIGKILLs, server restarts, a directory outage, a paused worker and a partition', () => {
  it('loses nothing, duplicates no client, publishes one created id per client and leaves no job behind', async () => {
    const log = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
    const result = await runChaos({ ...shortRunOptions(log), resultFile: join(process.cwd(), 'test-output', 'chaos-short.json') });
    const byName = (prefix: string) => result.report.invariants.find((i) => i.name.startsWith(prefix));
    const failing = result.report.invariants.filter((i) => !i.ok);
    const context = JSON.stringify({ failing, unexpectedExits: result.unexpectedExits, settle: result.settle, load: result.load }, null, 1);

    expect(result.faults.map((f) => f.fault), 'every fault ran').toHaveLength(SHORT_FAULTS.length);
    expect(result.faults.map((f) => f.kind)).toEqual(expect.arrayContaining(['kill', 'restart', 'outage', 'pause', 'partition']));
    expect(result.faults.filter((f) => f.error), context).toEqual([]);
    expect(byName('lost')?.value, context).toBe(0);
    expect(byName('duplicate clients')?.value, context).toBe(0);
    expect(byName('registered requests without their client')?.value, context).toBe(0);
    expect(byName('clients without exactly one dcr.client.created id')?.value, context).toBe(0);
    expect(byName('dcr.client.created for unknown clients')?.value, context).toBe(0);
    expect(byName('topics read to their end')?.ok, context).toBe(true);
    expect(byName('stuck jobs')?.value, context).toBe(0);
    expect(byName('outbox entries left')?.value, context).toBe(0);
    expect(byName('registrations of the load not registered')?.value, context).toBe(0);
    expect(byName('services that exited without being killed')?.value, context).toBe(0);
    expect(byName('jobs processed by two instances to completion')?.value, context).toBe(0);
    // the stage history names its worker: both verifiers completed stage runs
    const runs = result.report.counters.stageRuns as { byWorker: Record<string, number>; withWorker: number; runs: number };
    expect(Object.keys(runs.byWorker).filter((w) => w.startsWith('verifier@')).length, context).toBeGreaterThanOrEqual(2);
    expect(runs.withWorker, context).toBe(runs.runs);
    expect(result.ok, context).toBe(true);
  }, 600_000);
});
