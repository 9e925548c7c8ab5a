import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayRegistration } from '../../core/pipeline/replay.js';
import { FetchRefused } from '../../platform/http/outbound-fetcher.js';
import { MemoryRevocationCache } from '../../platform/adapters/embedded/revocation-cache.js';
import { TrustAnchors, parseCertificate } from '../../platform/pki/revocation-evidence.js';
import { DirectorySources } from '../../platform/revocation/sources.js';
import { SourceUnavailable } from '../../core/revocation/check.js';
import type { TestTpp } from '../support/pipeline.js';
import { connectionCounter, settled, startRevocationPipeline, submit, type RevocationPipeline } from './helpers.js';

const CRL = /\/crl\/ca\.crl$/;
const OCSP = /\/ocsp\//;
const ORG_STATUS = /\/data-recipients\/status$/;
const SOFTWARE_STATUS = /\/software-products\/status$/;

async function expectUnapproved(tpp: TestTpp, description: RegExp, overrides: Record<string, unknown> = {}): Promise<void> {
  const res = await tpp.post(await tpp.sign(tpp.claims(overrides)));
  expect(res.status, res.text).toBe(400);
  expect(res.json().error).toBe('unapproved_software_statement');
  expect(String(res.json().error_description)).toMatch(description);
}

describe('revocation stage: the directory word, every check on, no caching', () => {
  let ctx: RevocationPipeline;

  beforeAll(async () => {
    // The verifier keeps caching JWKS (default cap); the revocation stage asks the directory every time.
    ctx = await startRevocationPipeline({ revocation: { maxAgeSeconds: 0 } });
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('registers a TPP the directory has nothing against, after asking every source', async () => {
    const tpp = await ctx.pipeline.createTpp();
    const res = await tpp.post(await tpp.sign(tpp.claims()));
    expect(res.status, res.text).toBe(201);
    const f = ctx.fetcher;
    expect(f.count(CRL)).toBeGreaterThan(0);
    expect(f.count(OCSP)).toBeGreaterThan(0);
    expect(f.count(ORG_STATUS)).toBeGreaterThan(0);
    expect(f.count(SOFTWARE_STATUS)).toBeGreaterThan(0);
    expect(f.count(new RegExp(`/tpp/${tpp.sandbox.orgId}/${tpp.sandbox.softwareId}/revoked$`))).toBeGreaterThan(0);
    expect(f.count(new RegExp(`/org/${tpp.sandbox.orgId}/revoked$`))).toBeGreaterThan(0);
  });

  it('rejects a revoked organisation on the directory status API, though its SSA still says Active', async () => {
    const tpp = await ctx.pipeline.createTpp();
    await ctx.pipeline.directory.revokeOrganisation(tpp.sandbox.orgId);
    // The SSA was issued before the revocation: org_status Active, only the status API knows.
    expect(JSON.parse(Buffer.from(tpp.credentials.ssa.split('.')[1] ?? '', 'base64url').toString()).org_status).toBe('Active');
    await expectUnapproved(tpp, /organisation is not active in the directory \(status REVOKED\)/);
  });

  it('rejects revoked software', async () => {
    const tpp = await ctx.pipeline.createTpp();
    await ctx.pipeline.directory.revokeSoftware(tpp.sandbox.softwareId);
    await expectUnapproved(tpp, /software is not active in the directory \(status INACTIVE\)/);
  });

  it('rejects a signing key listed in the revoked JWKS (the verifier still had it cached)', async () => {
    const tpp = await ctx.pipeline.createTpp();
    // The verifier's JWKS cache has the key; the revocation stage reads the revoked list fresh.
    await ctx.pipeline.rt.keys.keySet(tpp.sandbox.softwareJwksUrl);
    await ctx.pipeline.directory.revokeSigningKey(tpp.sandbox.name);
    await expectUnapproved(tpp, new RegExp(`signing key '${tpp.sandbox.signingKid}' is revoked in the directory \\(software_jwks_revoked_endpoint\\)`));
  });

  it('rejects a transport certificate listed in the revoked JWKS', async () => {
    const tpp = await ctx.pipeline.createTpp();
    await ctx.pipeline.directory.revokeTransportCertificate(tpp.sandbox.name);
    await expectUnapproved(tpp, /transport certificate is revoked in the directory \(software_jwks_revoked_endpoint\)/);
  });

  it('rejects a transport certificate revoked only in the CA CRL', async () => {
    const tpp = await ctx.pipeline.createTpp();
    await ctx.pipeline.directory.revokeTransportCertificate(tpp.sandbox.name, { revokedJwks: false });
    await expectUnapproved(tpp, new RegExp(`transport certificate \\(serial ${tpp.sandbox.transportSerial.replace(/^(00)+/, '')}\\) is revoked by its CA's CRL`));
  });

  it('directory outage: retried, then failed in the revocation stage; replayed after recovery: registered', async () => {
    const { pipeline } = ctx;
    const tpp = await pipeline.createTpp();
    // Warm the verifier's key caches so that only the revocation stage meets the outage.
    await pipeline.rt.keys.keySet(pipeline.rt.trust.directoryJwksUrl);
    await pipeline.rt.keys.keySet(tpp.sandbox.softwareJwksUrl);
    await pipeline.directory.setOutage(true);
    let requestId: string;
    try {
      requestId = await submit(tpp);
      const failed = await settled(pipeline.rt, requestId);
      expect(failed.status).toBe('failed');
      expect(failed.failedStage).toBe('revocation');
      expect(failed.attempts.revocation).toBe(3);
      expect(failed.lastError).toMatch(/^directory_unreachable: /);
      expect(failed.lastError).toContain('HTTP 503');
      expect(failed.history.filter((h) => h.event === 'attempt_failed' && h.stage === 'revocation')).toHaveLength(2);
      expect(failed.outcome?.error).toBeUndefined();
    } finally {
      await pipeline.directory.setOutage(false);
    }

    const replay = await replayRegistration(pipeline.rt.adapters.store, pipeline.rt.dispatcher, requestId, { actor: 'revocation-test', onCommitted: () => pipeline.rt.kickRelay() });
    expect(replay.replayed).toBe(true);
    const recovered = await settled(pipeline.rt, requestId);
    expect(recovered.status).toBe('registered');
    expect(recovered.clientId).toBeTruthy();

    // A fresh submission after the outage registers too.
    const again = await tpp.post(await tpp.sign(tpp.claims()));
    expect(again.status, again.text).toBe(201);
  });

  it('an OCSP responder that cannot be asked fails the registration (no soft-fail by default)', async () => {
    const { pipeline } = ctx;
    const tpp = await pipeline.createTpp();
    ctx.fetcher.failing = OCSP;
    try {
      const failed = await settled(pipeline.rt, await submit(tpp));
      expect(failed.status).toBe('failed');
      expect(failed.failedStage).toBe('revocation');
      expect(failed.lastError).toMatch(/^directory_unreachable: ocsp: OCSP https:\/\/localhost:\d+\/ocsp: .*simulated outage/);
    } finally {
      ctx.fetcher.failing = null;
    }
  });

  it('SSRF: revoked-JWKS URLs outside the allow-list or on private addresses are refused without a connection', async () => {
    const { pipeline } = ctx;
    const counter = await connectionCounter();
    try {
      const tpp = await pipeline.createTpp();
      const crafted = await pipeline.directory.issueSsa(tpp.sandbox.name, {
        software_jwks_revoked_endpoint: `https://127.0.0.1:${counter.port}/revoked`,
        org_jwks_revoked_endpoint: 'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
        software_jwks_inactive_uri: 'https://10.0.0.1/revoked',
        software_jwks_transport_inactive_uri: `https://evil.example:${counter.port}/revoked`,
      });
      for (const url of [`https://127.0.0.1:${counter.port}/revoked`, 'https://169.254.169.254/latest/meta-data/', 'https://10.0.0.1/revoked']) {
        expect(() => pipeline.rt.fetcher.check(url)).toThrow(FetchRefused);
      }
      const failed = await settled(pipeline.rt, await submit(tpp, { software_statement: crafted }));
      expect(failed.status).toBe('failed');
      expect(failed.failedStage).toBe('revocation');
      expect(failed.lastError).toMatch(/^fetch_refused: /);
      expect(failed.lastError).toContain("host '169.254.169.254' is not in the outbound allow-list");
      expect(failed.lastError).toContain("host '10.0.0.1' is not in the outbound allow-list");
      expect(failed.lastError).toContain(`host '127.0.0.1:${counter.port}' is not in the outbound allow-list`);

      // A CRL distribution point pointing there is refused the same way.
      const cert = parseCertificate(tpp.sandbox.transportCertPem);
      const issuer = new TrustAnchors(pipeline.rt.trust.clientCaPems).issuersOf(cert)[0];
      expect(issuer).toBeDefined();
      const sources = new DirectorySources({ fetcher: pipeline.rt.fetcher, cache: new MemoryRevocationCache(), maxAgeSeconds: 300, leewaySeconds: 30, clock: () => new Date() });
      const refused = await sources.crl([`https://127.0.0.1:${counter.port}/ca.crl`, 'https://169.254.169.254/ca.crl'], issuer ?? cert).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SourceUnavailable);
      expect((refused as SourceUnavailable).reason).toBe('fetch_refused');
      expect(counter.connections()).toBe(0);
    } finally {
      await counter.close();
    }
  });
});

describe('revocation stage: OCSP as the only certificate status source', () => {
  let ctx: RevocationPipeline;
  beforeAll(async () => {
    ctx = await startRevocationPipeline({ env: { DCR_REVOCATION_CHECKS: 'chain,ocsp' } });
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('rejects a transport certificate the CA reports revoked over OCSP; no CRL or status API asked', async () => {
    const good = await ctx.pipeline.createTpp();
    expect((await good.post(await good.sign(good.claims()))).status).toBe(201);
    const tpp = await ctx.pipeline.createTpp();
    await ctx.pipeline.directory.revokeTransportCertificate(tpp.sandbox.name, { revokedJwks: false });
    await expectUnapproved(tpp, /transport certificate \(serial [0-9a-f]+\) is revoked \(OCSP\) since /);
    expect(ctx.fetcher.count(OCSP)).toBeGreaterThanOrEqual(2);
    expect(ctx.fetcher.count(CRL)).toBe(0);
    expect(ctx.fetcher.count(ORG_STATUS)).toBe(0);
  });
});

describe('revocation stage: shared cache and OCSP soft-fail', () => {
  let ctx: RevocationPipeline;
  // The stage's clock runs with real time plus an offset the test moves forward.
  let offsetMs = 0;
  const advance = (seconds: number) => {
    offsetMs += seconds * 1000;
  };

  beforeAll(async () => {
    ctx = await startRevocationPipeline({ env: { DCR_REVOCATION_SOFT_FAIL: 'ocsp,crl' }, revocation: { clock: () => new Date(Date.now() + offsetMs) } });
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('serves status lists per Cache-Control (60 s) and the CRL until nextUpdate, capped at 300 s', async () => {
    const f = ctx.fetcher;
    // Every TPP exists in the directory before the first registration (a TPP missing from a cached
    // status list makes the stage ask again, fresh).
    const tpps = [await ctx.pipeline.createTpp(), await ctx.pipeline.createTpp(), await ctx.pipeline.createTpp(), await ctx.pipeline.createTpp()];
    const register = async () => {
      const tpp = tpps.shift();
      if (!tpp) throw new Error('no TPP left');
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status, res.text).toBe(201);
      return { crl: f.count(CRL), org: f.count(ORG_STATUS), software: f.count(SOFTWARE_STATUS), ocsp: f.count(OCSP) };
    };
    const first = await register();
    expect(first).toEqual({ crl: 1, org: 1, software: 1, ocsp: 1 });
    // Another TPP at once: the same CRL and status lists come from the cache; its own OCSP question is new.
    expect(await register()).toEqual({ crl: 1, org: 1, software: 1, ocsp: 2 });
    // 61 s later: the status lists (max-age=60) expired, the CRL (nextUpdate +1 h, cap 300 s) did not.
    advance(61);
    expect(await register()).toEqual({ crl: 1, org: 2, software: 2, ocsp: 3 });
    // Past the 300 s cap: the CRL is fetched again.
    advance(240);
    expect(await register()).toEqual({ crl: 2, org: 3, software: 3, ocsp: 4 });
  });

  it('soft-fail (ocsp,crl): accepts one source down while the other answers, records it; never both', async () => {
    const { pipeline } = ctx;
    const tpp = await pipeline.createTpp();
    ctx.fetcher.failing = OCSP;
    try {
      const done = await settled(pipeline.rt, await submit(tpp));
      expect(done.status).toBe('registered');
      const soft = done.history.filter((h) => h.event === 'revocation_soft_fail');
      expect(soft).toHaveLength(1);
      expect(soft[0]?.stage).toBe('revocation');
      expect(soft[0]?.error).toBe('directory_unreachable');
      expect(soft[0]?.detail).toMatch(/^ocsp not checked, accepted by DCR_REVOCATION_SOFT_FAIL: OCSP https:\/\/localhost:\d+\/ocsp: .*simulated outage/);

      // CRL and OCSP both down: soft-fail never leaves the certificate's status unknown.
      ctx.fetcher.failing = /\/ocsp\/|\/crl\//;
      advance(301); // past the cached CRL
      const both = await settled(pipeline.rt, await submit(await pipeline.createTpp()));
      expect(both.status).toBe('failed');
      expect(both.lastError).toMatch(/^directory_unreachable: crl: .*; ocsp: /);

      // CRL down, OCSP answering: accepted, recorded as a CRL soft-fail.
      ctx.fetcher.failing = CRL;
      const crlDown = await settled(pipeline.rt, await submit(await pipeline.createTpp()));
      expect(crlDown.status).toBe('registered');
      expect(crlDown.history.filter((h) => h.event === 'revocation_soft_fail').map((h) => h.detail)).toEqual([expect.stringMatching(/^crl not checked/)]);

      // Positive evidence still wins while OCSP is down: the (refreshed) CRL lists the certificate.
      ctx.fetcher.failing = OCSP;
      advance(301);
      const revoked = await pipeline.createTpp();
      await pipeline.directory.revokeTransportCertificate(revoked.sandbox.name, { revokedJwks: false });
      await expectUnapproved(revoked, /is revoked by its CA's CRL/);
    } finally {
      ctx.fetcher.failing = null;
    }
  });
});
