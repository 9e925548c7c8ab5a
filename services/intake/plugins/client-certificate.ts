import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PresentedCertificate } from '../../../core/domain/registration.js';
import { allowsClientAuth, CertificateIdentities, CertificateRefused, issuingCa } from '../../../platform/pki/client-certificate.js';
import type { CertificateBindingRule } from '../../../core/profiles/types.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { BoundedMemo } from '../../../platform/util/bounded-memo.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified mTLS client certificate (or one forwarded by a trusted proxy), else null. */
    clientCertificate: PresentedCertificate | null;
  }
  interface FastifyInstance {
    /** Scoped TPP identities of client certificates (platform/pki/client-certificate.ts). */
    certificateIdentities: CertificateIdentities;
  }
  interface FastifyContextConfig {
    /** The route requires a client certificate chained to `DCR_CLIENT_CA_FILE`. */
    mtls?: boolean;
  }
}

export interface ClientCertificateOptions {
  /** PEM trust anchors for forwarded certificates (the TLS layer checks direct ones). */
  clientCas: readonly string[];
  /** The profile's certificate binding conventions: which subject attribute names the organisation. */
  bindingRules?: readonly CertificateBindingRule[];
  /** RFC 9440 header name, e.g. `client-cert`; unset: proxies are not trusted. */
  header?: string;
  trustedProxies?: readonly string[];
}

/** RFC 9440 `Client-Cert`: an RFC 8941 byte sequence `:base64:` of the DER leaf certificate. */
function parseByteSequence(value: string): Buffer | null {
  const m = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(value.trim());
  return m?.[1] ? Buffer.from(m[1], 'base64') : null;
}

/**
 * A forwarded certificate is held to what the TLS layer checks of a direct one: issued (name and
 * signature) by a client CA, within its validity, and fit for TLS client authentication (an EKU
 * extension, when present, must allow clientAuth; RFC 5280 §4.2.1.12).
 */
function forwardedIssuer(der: Buffer, anchors: readonly X509Certificate[]): X509Certificate | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return null;
  }
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return null;
  if (!allowsClientAuth(cert)) return null;
  return issuingCa(cert, anchors);
}

type Described = { ok: true; certificate: PresentedCertificate } | { ok: false; reason: string };

/**
 * Learns the client certificate of each request: from the TLS session when the handshake verified
 * it against the client CAs, or from the RFC 9440 header when the TCP peer is a trusted proxy (the
 * header is ignored from anyone else). Routes with `config.mtls` answer 401 JSON without one, and
 * for a certificate that cannot stand for one organisation (two organisations named).
 */
export const clientCertificatePlugin = fp(async (app: FastifyInstance, options: ClientCertificateOptions) => {
  const identities = new CertificateIdentities(options.clientCas, options.bindingRules ?? []);
  const anchors = identities.anchors;
  const header = options.header?.toLowerCase();
  const proxies = new Set(options.trustedProxies ?? []);
  // TPPs come back with the same certificate: its description (ASN.1 DN parsing) is computed once.
  const described = new BoundedMemo<string, Described>(4096);
  const describe = (der: Buffer, issuer: () => X509Certificate | null): Described => {
    const result = described.through(der.toString('base64'), () => {
      try {
        return { ok: true, certificate: identities.describe(der, issuer()) };
      } catch (error) {
        if (error instanceof CertificateRefused) return { ok: false, reason: error.message };
        throw error;
      }
    });
    return result.ok ? { ok: true, certificate: { ...result.certificate } } : result;
  };
  app.decorate('certificateIdentities', identities);
  app.decorateRequest('clientCertificate', null);

  const fromTls = (request: FastifyRequest): Described | null => {
    const socket = request.raw.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null;
    // The DER alone (`getPeerCertificate().raw`, ≈ 0.07 ms) keys the memo; the X509Certificate
    // (`getPeerX509Certificate()`, ≈ 0.22 ms on each new socket) is built only when the certificate
    // is described for the first time. Every check runs on that first time, as before: the TLS layer
    // verified the chain (socket.authorized), and the description below does the rest.
    const raw = socket.getPeerCertificate().raw as Buffer | undefined;
    if (!raw || raw.length === 0) return null;
    return describe(raw, () => {
      const peer = new X509Certificate(raw);
      const anchor = issuingCa(peer, anchors);
      if (anchor) return anchor;
      // Chained through an intermediate the client sent: the direct issuer of the verified chain.
      const issuerRaw = socket.getPeerCertificate(true).issuerCertificate?.raw;
      return issuerRaw ? new X509Certificate(issuerRaw) : null;
    });
  };

  const fromProxy = (request: FastifyRequest): Described | null => {
    if (!header || !proxies.has(request.raw.socket.remoteAddress ?? '')) return null;
    const value = request.headers[header];
    if (typeof value !== 'string') return null;
    const der = parseByteSequence(value);
    if (!der) return null;
    const issuer = forwardedIssuer(der, anchors);
    return issuer ? describe(der, () => issuer) : null;
  };

  app.addHook('onRequest', async (request) => {
    const found = fromProxy(request) ?? fromTls(request);
    request.clientCertificate = found?.ok ? found.certificate : null;
    if (request.routeOptions.config.mtls && !request.clientCertificate) {
      throw new HttpError('ERR_INVALID_CLIENT', found && !found.ok ? found.reason : 'a client certificate issued by a trusted CA is required (mutual TLS)');
    }
  });
});
