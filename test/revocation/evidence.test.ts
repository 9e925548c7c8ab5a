import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { SandboxDirectory, startSandboxDirectoryServer, type SandboxServer } from '../../sandbox/directory-sandbox/index.js';
import { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import {
  EvidenceUnusable,
  TrustAnchors,
  crlDistributionPoints,
  crlVerdict,
  ocspGetUrl,
  ocspRequestDer,
  ocspResponders,
  parseCertificate,
  validateChain,
  verifiedCrl,
  verifiedOcsp,
} from '../../platform/pki/revocation-evidence.js';
import { freeTcpPort } from '../../testkit/ports.js';
import { RegistrationRejection, RetryableFailure } from '../../core/domain/errors.js';
import type { Registration } from '../../core/domain/registration.js';
import { createLogger } from '../../platform/runtime/logger.js';
import type { Store } from '../../core/ports/store.js';
import type { RevocationCheckName } from '../../core/revocation/checks/index.js';
import type { CacheEntry } from '../../core/ports/revocation-cache.js';
import { MemoryRevocationCache } from '../../platform/adapters/embedded/revocation-cache.js';
import { RevocationStage } from '../../services/revocation/stage.js';
import { DirectorySources } from '../../platform/revocation/sources.js';
import { SourceUnavailable } from '../../core/revocation/check.js';

function post(url: string, body: Buffer, ca: string, contentType: string): Promise<{ status: number; contentType: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, agent: false, headers: { 'content-type': contentType, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('sandbox OCSP responder and CRL, verified by the revocation stage primitives', () => {
  let dataDir: string;
  let dir: SandboxDirectory;
  let server: SandboxServer;
  let fetcher: OutboundFetcher;
  let anchors: TrustAnchors;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-rev-'));
    const port = await freeTcpPort();
    dir = await SandboxDirectory.open({ dataDir, baseUrl: `https://localhost:${port}` });
    server = await startSandboxDirectoryServer(dir, { host: '127.0.0.1', port });
    fetcher = new OutboundFetcher({ allowedHosts: [`localhost:${port}`], ca: [dir.caCertPem], connectTimeoutMs: 2000, totalTimeoutMs: 5000, maxBytes: 1 << 20 });
    anchors = new TrustAnchors([dir.caCertPem]);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('validates the transport certificate chain and finds its CRL and OCSP URLs', async () => {
    const tpp = await dir.createTpp('chain');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    expect(issuer.peculiar.subject).toBe(cert.peculiar.issuer);
    expect(crlDistributionPoints(cert)).toEqual([dir.crlUrl]);
    expect(ocspResponders(cert)).toEqual([dir.ocspUrl]);
    // Another sandbox's CA does not anchor it.
    const otherDir = await mkdtemp(join(tmpdir(), 'dcr-rev-other-'));
    try {
      const other = await SandboxDirectory.open({ dataDir: otherDir, baseUrl: 'https://localhost:1' });
      expect(() => validateChain(cert, new TrustAnchors([other.caCertPem]), new Date())).toThrow(/not issued by a trusted CA/);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
    // Outside its validity period.
    expect(() => validateChain(cert, anchors, new Date(Date.now() + 20 * 365 * 86_400_000))).toThrow(/validity/);
  });

  it('answers good, then revoked after revocation (GET form through the outbound fetcher)', async () => {
    const tpp = await dir.createTpp('ocspgood');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const der = ocspRequestDer(cert, issuer);
    const good = await fetcher.fetch(ocspGetUrl(dir.ocspUrl, der), 'application/ocsp-response');
    expect(good.contentType).toBe('application/ocsp-response');
    const first = verifiedOcsp(good.body, cert, issuer, new Date(), 30_000, 300_000);
    expect(first.status).toBe('good');
    expect(first.nextUpdate && first.nextUpdate > first.thisUpdate).toBe(true);

    await dir.revokeTransportCertificate('ocspgood', { revokedJwks: false });
    const revoked = await fetcher.fetch(ocspGetUrl(dir.ocspUrl, der), 'application/ocsp-response');
    const second = verifiedOcsp(revoked.body, cert, issuer, new Date(), 30_000, 300_000);
    expect(second.status).toBe('revoked');
    expect(second.revokedAt).toBeInstanceOf(Date);

    // A response is not accepted after its nextUpdate, nor for another certificate.
    expect(() => verifiedOcsp(revoked.body, cert, issuer, new Date(Date.now() + 2 * 3600_000), 30_000, 300_000)).toThrow(/stale/);
    const otherCert = parseCertificate((await dir.createTpp('ocspother')).transportCertPem);
    expect(() => verifiedOcsp(revoked.body, otherCert, issuer, new Date(), 30_000, 300_000)).toThrow(/does not cover/);
  });

  it('answers POST application/ocsp-request; unknown for a certificate it did not issue to a TPP; malformedRequest for garbage', async () => {
    const tpp = await dir.createTpp('ocsppost');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const res = await post(dir.ocspUrl, ocspRequestDer(cert, issuer), dir.caCertPem, 'application/ocsp-request');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/ocsp-response');
    expect(verifiedOcsp(res.body, cert, issuer, new Date(), 30_000, 300_000).status).toBe('good');

    // The sandbox's own server certificate is issued by the CA but is no TPP transport certificate.
    const serverCert = parseCertificate((await dir.issueServerCertificate(['example.test'])).certPem);
    const unknown = await post(dir.ocspUrl, ocspRequestDer(serverCert, issuer), dir.caCertPem, 'application/ocsp-request');
    expect(verifiedOcsp(unknown.body, serverCert, issuer, new Date(), 30_000, 300_000).status).toBe('unknown');

    const garbage = await post(dir.ocspUrl, Buffer.from('not ASN.1'), dir.caCertPem, 'application/ocsp-request');
    expect(garbage.status).toBe(200);
    expect(AsnConvert.parse(garbage.body, OCSPResponse).responseStatus).toBe(OCSPResponseStatus.malformedRequest);
    expect(() => verifiedOcsp(garbage.body, cert, issuer, new Date(), 30_000, 300_000)).toThrow(EvidenceUnusable);
  });

  it('refuses an OCSP response signed by another CA', async () => {
    const tpp = await dir.createTpp('ocspforged');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const otherDir = await mkdtemp(join(tmpdir(), 'dcr-rev-other-'));
    try {
      const other = await SandboxDirectory.open({ dataDir: otherDir, baseUrl: 'https://localhost:1' });
      // The other CA answers about our certificate's CertID with its own key: the signature does not verify.
      const forged = await other.ocspResponse(ocspRequestDer(cert, issuer));
      expect(() => verifiedOcsp(Buffer.from(forged), cert, issuer, new Date(), 30_000, 300_000)).toThrow(/signature/);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('verifies the CRL against the issuing CA and finds a revoked serial', async () => {
    const tpp = await dir.createTpp('crl');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const before = await fetcher.fetch(dir.crlUrl, 'application/pkix-crl');
    const crl = await verifiedCrl(before.body, issuer, new Date(), 30_000);
    expect(crlVerdict(crl, cert).revoked).toBe(false);
    await dir.revokeTransportCertificate('crl', { revokedJwks: false });
    const after = Buffer.from(await dir.crlDer());
    const verdict = crlVerdict(await verifiedCrl(after, issuer, new Date(), 30_000), cert);
    expect(verdict.revoked).toBe(true);
    // Stale after nextUpdate (+1 h); a flipped signature byte is refused.
    await expect(verifiedCrl(after, issuer, new Date(Date.now() + 2 * 3600_000), 30_000)).rejects.toThrow(/stale/);
    const tampered = Buffer.from(after);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 0xff;
    await expect(verifiedCrl(tampered, issuer, new Date(), 30_000)).rejects.toThrow(EvidenceUnusable);
  });

  it('verifies cached evidence once per exact body: an altered cache entry is verified afresh, freshness on every use', async () => {
    const tpp = await dir.createTpp('memo');
    const cert = parseCertificate(tpp.transportCertPem);
    const issuer = validateChain(cert, anchors, new Date());
    const cache = new MemoryRevocationCache();
    const keys = new Set<string>();
    const recording = { get: (k: string) => cache.get(k), set: (k: string, e: CacheEntry) => (keys.add(k), cache.set(k, e)), close: () => cache.close() };
    let now = new Date();
    let fetches = 0;
    const counting = { fetch: (url: string, accept: string) => (fetches++, fetcher.fetch(url, accept)) } as unknown as OutboundFetcher;
    const sources = new DirectorySources({ fetcher: counting, cache: recording, maxAgeSeconds: 86_400, leewaySeconds: 30, clock: () => now });
    const urls = crlDistributionPoints(cert);
    const first = await sources.crl(urls, issuer);
    const second = await sources.crl(urls, issuer);
    expect([first.cached, second.cached, fetches]).toEqual([false, true, 1]);
    expect(second.value).toBe(first.value); // the verified form of the same bytes, not parsed again

    // Someone alters the shared cache entry (one signature byte): it is verified again and refused.
    const key = `crl:${urls[0]}`;
    const entry = await cache.get(key);
    if (!entry) throw new Error('no cache entry');
    const body = Buffer.from(entry.body, 'base64');
    body[body.length - 5] = (body[body.length - 5] ?? 0) ^ 0xff;
    await cache.set(key, { ...entry, body: body.toString('base64') });
    await expect(sources.crl(urls, issuer)).rejects.toThrow(SourceUnavailable);
    await expect(sources.crl(urls, issuer)).rejects.toThrow(/signature/);

    // The genuine CRL again, kept (by a cache with another clock) past its nextUpdate: stale, although
    // its verification is remembered.
    await cache.set(key, { ...entry, expiresAt: Date.now() + 10 * 3600_000 });
    expect((await sources.crl(urls, issuer)).cached).toBe(true);
    now = new Date(Date.now() + 2 * 3600_000);
    await expect(sources.crl(urls, issuer)).rejects.toThrow(/stale/);
    expect(fetches).toBe(1);

    // OCSP: the same rule.
    now = new Date();
    const responders = ocspResponders(cert);
    const ocsp = await sources.ocsp(responders, cert, issuer);
    expect((await sources.ocsp(responders, cert, issuer)).value).toBe(ocsp.value);
    const ocspKey = [...keys].find((k) => k.startsWith('ocsp:')) ?? '';
    const ocspEntry = await cache.get(ocspKey);
    if (!ocspEntry) throw new Error('no OCSP cache entry');
    await cache.set(ocspKey, { ...ocspEntry, expiresAt: Date.now() + 10 * 3600_000 });
    now = new Date(Date.now() + 2 * 3600_000);
    await expect(sources.ocsp(responders, cert, issuer)).rejects.toThrow(/stale/);
    expect(fetches).toBe(2);
  });

  describe('the stage on its own', () => {
    const registrationWith = (certPem: string): Registration => {
      const cert = parseCertificate(certPem);
      return {
        id: 'r1',
        kind: 'create',
        status: 'checking_revocation',
        generation: 1,
        submissionKey: 'k',
        contentType: 'application/jwt',
        body: '',
        certificate: { pem: certPem, thumbprint: '', subjectDn: cert.peculiar.subject, issuerDn: cert.peculiar.issuer, serialNumber: cert.serial, tppIdentity: 'x' },
        submittedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        verified: { ssa: { org_status: 'Active' }, metadata: {}, signingKid: 'kid', softwareJwksUri: '', orgId: 'o', softwareId: 's' },
        attempts: {},
        history: [],
        version: 1,
      };
    };
    const stageWith = (checks: RevocationCheckName[], ocspUnknown: 'retry' | 'reject') =>
      new RevocationStage({
        fetcher,
        policy: { checks, softFail: [], ocspUnknown },
        anchors,
        cache: new MemoryRevocationCache(),
        maxAgeSeconds: 0,
        leewaySeconds: 30,
        // Soft-fail is off here: the stage never writes.
        store: {} as Store,
        logger: createLogger('test', 'silent'),
      });

    it('OCSP unknown: retried by default, rejected with DCR_OCSP_UNKNOWN=reject', async () => {
      // Issued by the sandbox CA, but not a TPP transport certificate: the responder does not know it.
      const registration = registrationWith((await dir.issueServerCertificate(['unknown.example'])).certPem);
      const retried = await stageWith(['ocsp'], 'retry').run(registration).catch((e: unknown) => e);
      expect(retried).toBeInstanceOf(RetryableFailure);
      expect((retried as RetryableFailure).reason).toBe('directory_unreachable');
      expect((retried as Error).message).toContain('does not know the transport certificate (unknown)');
      const rejected = await stageWith(['ocsp'], 'reject').run(registration).catch((e: unknown) => e);
      expect(rejected).toBeInstanceOf(RegistrationRejection);
      expect((rejected as RegistrationRejection).errorDescription).toBe('the transport certificate is unknown to its CA (OCSP)');
    });

    it('chain: a certificate of another CA, or not for client authentication, is rejected', async () => {
      const otherDir = await mkdtemp(join(tmpdir(), 'dcr-rev-other-'));
      try {
        const other = await SandboxDirectory.open({ dataDir: otherDir, baseUrl: 'https://localhost:1' });
        const foreign = await other.createTpp('foreign');
        const r1 = await stageWith(['chain'], 'retry').run(registrationWith(foreign.transportCertPem)).catch((e: unknown) => e);
        expect(r1).toBeInstanceOf(RegistrationRejection);
        expect((r1 as RegistrationRejection).errorDescription).toMatch(/^the transport certificate is not issued by a trusted CA/);
      } finally {
        await rm(otherDir, { recursive: true, force: true });
      }
      const server = registrationWith((await dir.issueServerCertificate(['server.example'])).certPem);
      const r2 = await stageWith(['chain'], 'retry').run(server).catch((e: unknown) => e);
      expect((r2 as RegistrationRejection).errorDescription).toMatch(/not for TLS client authentication/);
      // And a sandbox TPP's certificate passes every certificate check.
      const ok = registrationWith((await dir.createTpp('stageok')).transportCertPem);
      await expect(stageWith(['chain', 'crl', 'ocsp'], 'retry').run(ok)).resolves.toMatchObject({ registration: ok });
    });
  });
});
