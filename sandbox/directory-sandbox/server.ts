/**
 * The sandbox directory's HTTPS API (Fastify): directory JWKS, software/org JWKS and revoked JWKS,
 * the CA's CRL and certificate, its OCSP responder, a CDR Register-shaped status API and simple
 * status lookups.
 * Every request reads the shared state (cheap when unchanged), so revocations and the outage switch
 * made by another process on the same data dir take effect at once.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import Fastify from 'fastify';
import type { FastifyError, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SandboxDirectory } from './directory.js';
import { ORG_ID_PATTERN, SOFTWARE_ID_PATTERN } from './ids.js';
import { OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { ocspErrorResponse } from './ocsp.js';

export interface SandboxServerOptions {
  host: string;
  port: number;
  /**
   * Default: a certificate from `dir.issueServerCertificate(...)` for localhost, 127.0.0.1, the base
   * URL's host name and `host` (unless a wildcard address).
   */
  tls?: { certPem: string; keyPem: string };
  /**
   * `Cache-Control` of the JWKS answers (directory, software/org active and revoked). Default
   * `max-age=60`. Tests and the benchmark's `no-store` mode set `no-store` (a directory whose keys
   * may not be cached: every registration fetches them).
   */
  jwksCacheControl?: string;
}

export interface SandboxServer {
  /** `https://<host>:<port>` (`localhost` when listening on a wildcard address). */
  url: string;
  port: number;
  close(): Promise<void>;
}

const CACHE_CONTROL = 'max-age=60';
const CRL_CACHE_MS = 60_000;

const OrgId = Type.String({ pattern: ORG_ID_PATTERN });
const SoftwareId = Type.String({ pattern: SOFTWARE_ID_PATTERN });
const Industry = Type.Enum(['banking', 'energy', 'telco', 'all']);

const SoftwareParams = Type.Object({ orgId: OrgId, softwareId: SoftwareId }, { additionalProperties: false });
const OrgParams = Type.Object({ orgId: OrgId }, { additionalProperties: false });
const SoftwareOnlyParams = Type.Object({ softwareId: SoftwareId }, { additionalProperties: false });
const IndustryParams = Type.Object({ industry: Industry }, { additionalProperties: false });

function notFound(reply: FastifyReply, what: string) {
  return reply.code(404).send({ error: 'not_found', error_description: `unknown ${what}` });
}

export async function startSandboxDirectoryServer(dir: SandboxDirectory, opts: SandboxServerOptions): Promise<SandboxServer> {
  const wildcard = opts.host === '0.0.0.0' || opts.host === '::' || opts.host === '';
  const tls =
    opts.tls ??
    (await dir.issueServerCertificate([
      ...new Set([
        'localhost',
        '127.0.0.1',
        new URL(dir.baseUrl).hostname.replace(/^\[|\]$/g, ''),
        ...(wildcard ? [] : [opts.host]),
      ]),
    ]));

  const app = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' },
    logger: false,
    bodyLimit: 1024,
    connectionTimeout: 10_000,
    forceCloseConnections: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // ------------------------------------------------------------------ cross-cutting

  app.addHook('onRequest', async (_req, reply) => {
    if (await dir.isOutage()) {
      return reply
        .code(503)
        .header('retry-after', '30')
        .header('cache-control', 'no-store')
        .send({ error: 'temporarily_unavailable', error_description: 'the sandbox directory is in a simulated outage' });
    }
    return undefined;
  });

  // Strong ETag + If-None-Match on successful GETs (CDR Register semantics, SPEC §9.1).
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'GET' || reply.statusCode !== 200) return payload;
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const etag = `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
    reply.header('etag', etag);
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
      reply.code(304);
      return '';
    }
    return payload;
  });

  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: 'not_found', error_description: 'no such resource' });
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation) {
      return reply.code(400).send({ error: 'invalid_request', error_description: err.message });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply
      .code(status)
      .send(
        status === 500
          ? { error: 'server_error', error_description: 'internal error' }
          : { error: 'invalid_request', error_description: err.message },
      );
  });

  // ------------------------------------------------------------------ JWKS

  const jwksCacheControl = opts.jwksCacheControl ?? CACHE_CONTROL;
  app.get('/directory/jwks', async (_req, reply) => {
    return reply.header('cache-control', jwksCacheControl).send(await dir.directoryJwks());
  });

  for (const set of ['active', 'revoked'] as const) {
    const leaf = set === 'active' ? 'jwks' : 'revoked';
    app.get(`/tpp/:orgId/:softwareId/${leaf}`, { schema: { params: SoftwareParams } }, async (req, reply) => {
      const jwks = await dir.softwareJwks(req.params.orgId, req.params.softwareId, set);
      if (!jwks) return notFound(reply, 'organisation/software');
      return reply.header('cache-control', jwksCacheControl).send(jwks);
    });
    app.get(`/org/:orgId/${leaf}`, { schema: { params: OrgParams } }, async (req, reply) => {
      const jwks = await dir.orgJwks(req.params.orgId, set);
      if (!jwks) return notFound(reply, 'organisation');
      return reply.header('cache-control', jwksCacheControl).send(jwks);
    });
  }

  // ------------------------------------------------------------------ CA and CRL

  let crlCache: { key: string; der: Buffer; at: number } | undefined;
  app.get('/crl/ca.crl', async (_req, reply) => {
    const key = (await dir.revokedCertificateSerials()).join(',');
    if (!crlCache || crlCache.key !== key || Date.now() - crlCache.at > CRL_CACHE_MS) {
      crlCache = { key, der: Buffer.from(await dir.crlDer()), at: Date.now() };
    }
    return reply.header('content-type', 'application/pkix-crl').header('cache-control', CACHE_CONTROL).send(crlCache.der);
  });

  const caDer = Buffer.from(dir.caCertDer());
  app.get('/ca/ca.crt', async (_req, reply) => {
    return reply.header('content-type', 'application/pkix-cert').header('cache-control', 'max-age=3600').send(caDer);
  });

  // ------------------------------------------------------------------ OCSP (RFC 6960)

  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: 1024 }, (_req, body, done) => done(null, body));
  const ocspReply = async (reply: FastifyReply, der: Uint8Array | null) => {
    const answer = der ? await dir.ocspResponse(der) : ocspErrorResponse(OCSPResponseStatus.malformedRequest);
    return reply.header('content-type', 'application/ocsp-response').header('cache-control', CACHE_CONTROL).send(Buffer.from(answer));
  };
  app.post('/ocsp', async (req, reply) => ocspReply(reply, Buffer.isBuffer(req.body) ? req.body : null));
  // GET answers are pre-produced as a lightweight responder's are (RFC 5019): the same bytes, so the
  // same ETag, for the same request until a revocation or CRL_CACHE_MS, which lets clients revalidate.
  const ocspAnswers = new Map<string, { revoked: string; der: Buffer; at: number }>();
  const ocspGetReply = async (reply: FastifyReply, der: Buffer | null) => {
    if (!der) return ocspReply(reply, null);
    const request = der.toString('base64');
    const revoked = (await dir.revokedCertificateSerials()).join(',');
    let answer = ocspAnswers.get(request);
    if (!answer || answer.revoked !== revoked || Date.now() - answer.at > CRL_CACHE_MS) {
      answer = { revoked, der: Buffer.from(await dir.ocspResponse(der)), at: Date.now() };
      if (ocspAnswers.size >= 1000) ocspAnswers.clear();
      ocspAnswers.set(request, answer);
    }
    return reply.header('content-type', 'application/ocsp-response').header('cache-control', CACHE_CONTROL).send(answer.der);
  };
  // GET form (RFC 6960 A.1): /ocsp/{url-encoded base64 of the DER request}.
  app.get('/ocsp/*', async (req, reply) => {
    const encoded = (req.params as Record<string, string | undefined>)['*'] ?? '';
    let der: Buffer | null = null;
    try {
      const b64 = decodeURIComponent(encoded);
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) der = Buffer.from(b64, 'base64');
    } catch {
      der = null;
    }
    return ocspGetReply(reply, der);
  });

  // ------------------------------------------------------------------ status

  app.get('/cdr-register/v1/:industry/data-recipients/status', { schema: { params: IndustryParams } }, async (req, reply) => {
    const data = (await dir.organisationStatuses()).map((o) => ({
      legalEntityId: o.orgId,
      status: o.status === 'Active' ? 'ACTIVE' : 'REVOKED',
    }));
    return reply
      .header('cache-control', CACHE_CONTROL)
      .header('x-v', '2')
      .send({ data, links: { self: `${dir.baseUrl}${req.url}` }, meta: {} });
  });

  app.get(
    '/cdr-register/v1/:industry/data-recipients/brands/software-products/status',
    { schema: { params: IndustryParams } },
    async (req, reply) => {
      const data = (await dir.softwareStatuses()).map((s) => ({
        softwareProductId: s.softwareId,
        status: s.status === 'Active' ? 'ACTIVE' : 'INACTIVE',
      }));
      return reply
        .header('cache-control', CACHE_CONTROL)
        .header('x-v', '2')
        .send({ data, links: { self: `${dir.baseUrl}${req.url}` }, meta: {} });
    },
  );

  app.get('/status/orgs/:orgId', { schema: { params: OrgParams } }, async (req, reply) => {
    const status = await dir.organisationStatus(req.params.orgId);
    if (!status) return notFound(reply, 'organisation');
    return reply.header('cache-control', CACHE_CONTROL).send({ id: req.params.orgId, status });
  });

  app.get('/status/software/:softwareId', { schema: { params: SoftwareOnlyParams } }, async (req, reply) => {
    const status = await dir.softwareStatus(req.params.softwareId);
    if (!status) return notFound(reply, 'software');
    return reply.header('cache-control', CACHE_CONTROL).send({ id: req.params.softwareId, status });
  });

  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const urlHost = wildcard ? 'localhost' : isIP(opts.host) === 6 ? `[${opts.host}]` : opts.host;
  return {
    url: `https://${urlHost}:${port}`,
    port,
    close: async () => {
      await app.close();
    },
  };
}
