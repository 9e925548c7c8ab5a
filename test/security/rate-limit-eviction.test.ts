/**
 * Issue 17 finding 7: the in-memory rate-limit store must not forget a TPP's counter mid-window
 * however many anonymous addresses send requests (the store kept 5000 keys, TPPs and addresses
 * alike, so 5200 requests from many addresses reset a TPP's counter). The requests go through the
 * intake's whole Fastify stack (`inject`, which sets the TCP peer address; the TPP's certificate
 * arrives as an RFC 9440 header from the trusted proxy), embedded adapters: the distributed mode
 * counts in Redis, which evicts nothing.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ANONYMOUS_COUNTERS } from '../../platform/adapters/embedded/rate-limit-store.js';
import { startIntake, type RunningIntake } from '../../services/intake/service.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';

const PROXY = '10.0.0.1';

describe('rate limit counters: anonymous traffic cannot evict a TPP counter', () => {
  let pipeline: TestPipeline;
  let intake: RunningIntake;
  let tpp: TestTpp;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { DCR_RATE_LIMIT_PER_MINUTE: '5', DCR_CLIENT_CERT_HEADER: 'client-cert', DCR_TRUSTED_PROXIES: PROXY }, stages: false });
    tpp = await pipeline.createTpp();
    intake = await startIntake(pipeline.rt, { listen: false });
    await intake.app.ready();
  });
  afterAll(async () => {
    await intake?.stop();
    await pipeline?.stop();
  });

  it(`a TPP's fifth request is still its fifth after ${MAX_ANONYMOUS_COUNTERS + 200} requests from other addresses; the sixth is a 429`, async () => {
    const url = '/.well-known/openid-configuration';
    const asTpp = () => intake.app.inject({ method: 'GET', url, remoteAddress: PROXY, headers: { 'client-cert': `:${new X509Certificate(tpp.identity.certPem).raw.toString('base64')}:` } });
    for (let i = 0; i < 4; i++) expect((await asTpp()).statusCode).toBe(200);
    for (let i = 0; i < MAX_ANONYMOUS_COUNTERS + 200; i++) {
      const res = await intake.app.inject({ method: 'GET', url, remoteAddress: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` });
      expect(res.statusCode).toBe(200);
    }
    expect((await asTpp()).statusCode).toBe(200);
    const limited = await asTpp();
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'slow_down' });
  });
});
