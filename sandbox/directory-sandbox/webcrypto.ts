/**
 * WebCrypto plumbing shared by the sandbox directory: the @peculiar/x509 crypto provider, key
 * generation, PEM export/import and small encoding helpers.
 */
import './reflect-metadata.js'; // must precede '@peculiar/x509' (see that file)
import { randomBytes } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

export const subtle = globalThis.crypto.subtle;

/** @types/node 20 has no global WebCrypto key types under `lib: ES2023`. */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** RSA PKCS#1 v1.5 with SHA-256: the CA's and the transport certificates' key algorithm. */
export const RSA_PKCS1_SHA256 = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
} as const;

/** RSA-PSS with SHA-256 (PS256) keys. */
export const RSA_PSS_SHA256 = {
  name: 'RSA-PSS',
  hash: 'SHA-256',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
} as const;

/** ECDSA P-256 (ES256) keys. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export type KeyAlgorithmParams = typeof RSA_PKCS1_SHA256 | typeof RSA_PSS_SHA256 | typeof EC_P256;

export async function generateKeyPair(alg: KeyAlgorithmParams): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Imports a PKCS#8 PEM private key. Slow under OpenSSL 3: callers cache the result. */
export async function importPrivateKeyPem(pem: string, alg: KeyAlgorithmParams): Promise<CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  if (!der) throw new Error('no PEM block in private key');
  const importAlg = alg.name === 'ECDSA' ? alg : { name: alg.name, hash: alg.hash };
  return subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
}

export function toBase64(data: ArrayBuffer | Uint8Array): string {
  return Buffer.from(data instanceof Uint8Array ? data : new Uint8Array(data)).toString('base64');
}

export function toBase64Url(data: ArrayBuffer | Uint8Array): string {
  return Buffer.from(data instanceof Uint8Array ? data : new Uint8Array(data)).toString('base64url');
}

/**
 * A random positive certificate serial number as lower-case hex: 16 bytes, first byte in
 * 0x40..0x7f so the DER INTEGER is positive and minimally encoded without padding.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Serial numbers compared as hex, case-insensitively and without leading zero bytes. */
export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/^(00)+/, '');
}
