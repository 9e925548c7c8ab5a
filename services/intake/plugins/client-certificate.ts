import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PresentedCertificate } from '../../../shared/domain/registration.js';
import { describeCertificate } from '../../../shared/pki/client-certificate.js';
import { HttpError } from '../../../shared/http/fastify-errors.js';
import { BoundedMemo } from '../../../shared/util/bounded-memo.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified mTLS client certificate (or one forwarded by a trusted proxy), else null. */
    clientCertificate: PresentedCertificate | null;
  }
  interface FastifyContextConfig {
    /** The route requires a client certificate chained to `DCR_CLIENT_CA_FILE`. */
    mtls?: boolean;
  }
}

export interface ClientCertificateOptions {
  /** PEM trust anchors for forwarded certificates (the TLS layer checks direct ones). */
  clientCas: readonly string[];
  /** RFC 9440 header name, e.g. `client-cert`; unset: proxies are not trusted. */
  header?: string;
  trustedProxies?: readonly string[];
}

/** RFC 9440 `Client-Cert`: an RFC 8941 byte sequence `:base64:` of the DER leaf certificate. */
function parseByteSequence(value: string): Buffer | null {
  const m = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(value.trim());
  return m?.[1] ? Buffer.from(m[1], 'base64') : null;
}

function chainsToTrustAnchor(der: Buffer, anchors: readonly X509Certificate[]): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return false;
  }
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return false;
  return anchors.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}

/**
 * Learns the client certificate of each request: from the TLS session when the handshake verified
 * it against the client CAs, or from the RFC 9440 header when the TCP peer is a trusted proxy (the
 * header is ignored from anyone else). Routes with `config.mtls` answer 401 JSON without one.
 */
export const clientCertificatePlugin = fp(async (app: FastifyInstance, options: ClientCertificateOptions) => {
  const anchors = options.clientCas.map((pem) => new X509Certificate(pem));
  const header = options.header?.toLowerCase();
  const proxies = new Set(options.trustedProxies ?? []);
  // TPPs come back with the same certificate: its description (ASN.1 DN parsing) is computed once.
  const described = new BoundedMemo<string, PresentedCertificate>(4096);
  const describe = (der: Buffer): PresentedCertificate => ({ ...described.through(der.toString('base64'), () => describeCertificate(der)) });
  app.decorateRequest('clientCertificate', null);

  const fromTls = (request: FastifyRequest): PresentedCertificate | null => {
    const socket = request.raw.socket as TLSSocket;
    if (typeof socket.getPeerX509Certificate !== 'function' || !socket.authorized) return null;
    const peer = socket.getPeerX509Certificate();
    return peer ? describe(peer.raw) : null;
  };

  const fromProxy = (request: FastifyRequest): PresentedCertificate | null => {
    if (!header || !proxies.has(request.raw.socket.remoteAddress ?? '')) return null;
    const value = request.headers[header];
    if (typeof value !== 'string') return null;
    const der = parseByteSequence(value);
    if (!der || !chainsToTrustAnchor(der, anchors)) return null;
    return describe(der);
  };

  app.addHook('onRequest', async (request) => {
    request.clientCertificate = fromProxy(request) ?? fromTls(request);
    if (request.routeOptions.config.mtls && !request.clientCertificate) {
      throw new HttpError(401, 'invalid_client', 'a client certificate issued by a trusted CA is required (mutual TLS)');
    }
  });
});
