import type { TestPipeline, TestTpp } from '../support/pipeline.js';
import type { FuzzSeeds } from './engine.js';

/** Pipeline settings for fuzzing: no rate limit (it would answer most inputs 429), answer without waiting. */
export const FUZZ_ENV: Record<string, string> = {
  DCR_RATE_LIMIT_PER_MINUTE: '0',
  DCR_SYNC_WAIT_MS: '0',
};

/** A registered client and a few validly signed requests of one TPP: the mutation bases and targets. */
export async function fuzzSeeds(pipeline: TestPipeline, tpp: TestTpp): Promise<FuzzSeeds> {
  const first = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
  if (first.status !== 202) throw new Error(`seed registration answered ${first.status}: ${first.text}`);
  const requestId = first.json<{ request_id: string }>().request_id;
  const done = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created');
  const validJws = await Promise.all([0, 1, 2].map(() => tpp.sign(tpp.claims())));
  return { validJws, ssa: tpp.credentials.ssa, clientId: done.subject, requestId, maxBodyBytes: 64 * 1024 };
}
