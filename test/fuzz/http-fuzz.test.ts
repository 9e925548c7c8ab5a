import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { FuzzClient, runFuzz, type FuzzSeeds } from './engine.js';
import { FUZZ_ENV, fuzzSeeds } from './setup.js';

/** The seeded, smaller cousin of `npm run fuzz` (test/fuzz/run.ts): same generators, fixed seed. */
const SEED = 0x5eed;
const COUNT = Number(process.env['DCR_FUZZ_COUNT'] ?? 1500);

describe('HTTP surface fuzz (seeded)', () => {
  let pipeline: TestPipeline;
  let tpp: TestTpp;
  let seeds: FuzzSeeds;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: FUZZ_ENV });
    tpp = await pipeline.createTpp('fuzz');
    seeds = await fuzzSeeds(pipeline, tpp);
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it(`answers ${COUNT} hostile inputs without a 5xx, every error as JSON, and keeps serving`, async () => {
    const client = new FuzzClient(pipeline.intakeUrl, tpp.identity, 8);
    try {
      const result = await runFuzz(client, seeds, { seed: SEED, count: COUNT, concurrency: 8 });
      console.log(`fuzz: ${COUNT} inputs, statuses ${JSON.stringify(result.byStatus)}, not sent ${JSON.stringify(result.notSent)}`);
      expect(result.total).toBe(COUNT);
      expect(result.serverErrors).toEqual([]);
      expect(result.nonJsonErrors).toEqual([]);
      // Every input got an HTTP answer (a reset connection would hide a crash).
      expect(result.transportErrors).toEqual({});
      expect(Object.keys(result.byStatus).every((s) => Number(s) < 500)).toBe(true);
      const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0);
      const notSent = Object.values(result.notSent).reduce((a, b) => a + b, 0);
      const headWithBody = Object.values(result.headAnsweredWithBody).reduce((a, b) => a + b, 0);
      expect(answered + notSent + headWithBody).toBe(COUNT);
      expect(notSent).toBeLessThan(COUNT / 10);
      // The surface really was exercised: rejections of many kinds, and accepted registrations.
      expect(result.byStatus[400]).toBeGreaterThan(COUNT / 5);
      expect(result.byStatus[202]).toBeGreaterThan(0);
      expect(result.byStatus[413]).toBeGreaterThan(0);
      expect(result.byStatus[415]).toBeGreaterThan(0);
      expect(result.byStatus[401]).toBeGreaterThan(0);
    } finally {
      client.close();
    }
    // Still alive and still doing its job: health, and a genuine registration end to end.
    expect((await tpp.get('/health/live')).status).toBe(200);
    expect((await tpp.get('/health/ready')).status).toBe(200);
    const res = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
    expect(res.status).toBe(202);
  });
});
