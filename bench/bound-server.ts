/**
 * The bound: the least a registration endpoint must do per request. A plain node:https server with
 * the intake's TLS settings (same server certificate, client CAs, protocol floor and cipher list;
 * client certificate requested), which for `POST /register` reads the body, verifies the SSA
 * against the directory key and the request against the software's key (both imported once, before
 * the run), and answers 201. No store, no queue, no metadata rules: nothing a real endpoint could skip.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { compactVerify, decodeProtectedHeader, importJWK, type CryptoKey, type JWK } from 'jose';
import { FAPI_TLS12_CIPHERS } from '../services/intake/app.js';

/** As in services/intake/app.ts (TLS 1.3 suites; the TLS 1.2 list is imported from there). */
const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export interface IntakeTls {
  certPem: string;
  keyPem: string;
  clientCaPems: string[];
}

/** The TLS options of the intake (services/intake/app.ts), for the bound and the peer. */
export function intakeTlsOptions(tls: IntakeTls) {
  return {
    key: tls.keyPem,
    cert: tls.certPem,
    ca: tls.clientCaPems,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
    ciphers: [...TLS13_CIPHERS, ...FAPI_TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
  };
}

export interface BoundKeys {
  /** the directory's SSA signing keys (public JWKs with kid) */
  directory: JWK[];
  /** every software's signing public keys (with kid) */
  software: JWK[];
}

export interface RunningBound {
  origin: string;
  stop(): Promise<void>;
}

type KeyEntry = { key: CryptoKey | Uint8Array; alg: string };

async function importAll(jwks: JWK[]): Promise<Map<string, KeyEntry>> {
  const map = new Map<string, KeyEntry>();
  for (const jwk of jwks) {
    const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'PS256');
    if (typeof jwk.kid !== 'string') continue;
    map.set(jwk.kid, { key: (await importJWK(jwk, alg)) as CryptoKey | Uint8Array, alg });
  }
  return map;
}

async function verifyWith(keys: Map<string, KeyEntry>, jws: string): Promise<Uint8Array> {
  const header = decodeProtectedHeader(jws);
  const entry = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!entry) throw new Error('unknown kid');
  const { payload } = await compactVerify(jws, entry.key, { algorithms: [entry.alg] });
  return payload;
}

export async function startBoundServer(tls: IntakeTls, keys: BoundKeys): Promise<RunningBound> {
  const directory = await importAll(keys.directory);
  const software = await importAll(keys.software);
  const decoder = new TextDecoder();
  const server: Server = createServer(intakeTlsOptions(tls), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const socket = req.socket as import('node:tls').TLSSocket;
        if (req.method !== 'POST' || req.url !== '/register' || !socket.authorized) {
          res.writeHead(socket.authorized ? 404 : 401, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
          return;
        }
        try {
          const body = Buffer.concat(chunks).toString('utf8');
          const request = JSON.parse(decoder.decode(await verifyWith(software, body))) as { software_statement?: unknown; jti?: unknown };
          if (typeof request.software_statement !== 'string') throw new Error('no software_statement');
          const ssa = JSON.parse(decoder.decode(await verifyWith(directory, request.software_statement))) as { software_id?: unknown };
          res
            .writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            .end(JSON.stringify({ client_id: `${String(ssa.software_id)}-${String(request.jti)}` }));
        } catch (error) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_client_metadata', error_description: String(error) }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `https://localhost:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
