import { DuplicateMemberError, parseStrictJson } from './strict-json.js';
import { DcrError } from '../../core/errors/dcr-error.js';

/** Why a compact JWS was refused before any key was looked at. */
export class JwsFormatError extends DcrError {
  readonly code = 'ERR_JWS_FORMAT';
}

export interface CompactJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The original compact serialisation. */
  compact: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Headers that carry or point at keys: never used to find a key, and refused (SPEC §10.1). */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

export interface ParseOptions {
  /** What the token is, for error messages: `request`, `software_statement`. */
  what: string;
  allowedAlgorithms: readonly string[];
  maxBytes: number;
  maxHeaderBytes?: number;
  /** Accepted `typ` values (case-insensitive) when the header has one; null: any. */
  typ?: readonly string[] | null;
}

function decodeSegment(segment: string, what: string, part: string): Record<string, unknown> {
  if (!B64URL.test(segment) || segment.length % 4 === 1) {
    throw new JwsFormatError(`${what}: the ${part} is not canonical base64url`);
  }
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw new JwsFormatError(`${what}: the ${part} is not canonical base64url`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new JwsFormatError(`${what}: the ${part} is not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (error) {
    if (error instanceof DuplicateMemberError) throw new JwsFormatError(`${what}: the ${part} has a ${error.message}`);
    throw new JwsFormatError(`${what}: the ${part} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwsFormatError(`${what}: the ${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Parses a compact JWS strictly, without verifying it: exactly three canonical base64url parts, a
 * JSON-object header and payload without duplicate members, an allowed `alg`, a `kid`, and none of
 * `crit`, `b64`, `jwk`, `jku`, `x5u`, `x5c`. JWS JSON serialisation and JWE are refused.
 */
export function parseCompactJws(input: string, options: ParseOptions): CompactJws {
  const { what } = options;
  if (typeof input !== 'string' || input.length === 0) throw new JwsFormatError(`${what}: empty`);
  if (input.length > options.maxBytes) throw new JwsFormatError(`${what}: larger than ${options.maxBytes} bytes`);
  const compact = input.trim();
  if (compact.startsWith('{')) throw new JwsFormatError(`${what}: JWS JSON serialisation is not accepted, use the compact form`);
  const parts = compact.split('.');
  if (parts.length === 5) throw new JwsFormatError(`${what}: encrypted JWTs (JWE) are not accepted`);
  if (parts.length !== 3) throw new JwsFormatError(`${what}: not a compact JWS (expected three dot-separated parts)`);
  const [h, p, s] = parts as [string, string, string];
  if (h.length > (options.maxHeaderBytes ?? 4096) * 4 / 3 + 4) throw new JwsFormatError(`${what}: header larger than ${options.maxHeaderBytes ?? 4096} bytes`);
  const header = decodeSegment(h, what, 'header');
  if (s.length === 0 || !B64URL.test(s)) throw new JwsFormatError(`${what}: the signature is missing or not base64url`);
  // Only the one canonical encoding: unused trailing bits would let one signature stand under
  // several bodies and slip past the same-bytes idempotency check.
  if (s.length % 4 === 1 || Buffer.from(s, 'base64url').toString('base64url') !== s) {
    throw new JwsFormatError(`${what}: the signature is not canonical base64url`);
  }

  const alg = header.alg;
  if (typeof alg !== 'string') throw new JwsFormatError(`${what}: header 'alg' is missing`);
  if (alg === 'none') throw new JwsFormatError(`${what}: unsigned JWTs (alg 'none') are not accepted`);
  if (!options.allowedAlgorithms.includes(alg)) {
    throw new JwsFormatError(`${what}: alg '${alg.slice(0, 20)}' is not allowed (allowed: ${options.allowedAlgorithms.join(', ')})`);
  }
  for (const name of KEY_CARRYING_HEADERS) {
    if (name in header) throw new JwsFormatError(`${what}: header '${name}' is not accepted; keys come only from the directory`);
  }
  if ('crit' in header) throw new JwsFormatError(`${what}: header 'crit' names extensions this server does not understand`);
  if ('b64' in header) throw new JwsFormatError(`${what}: header 'b64' (unencoded payload) is not accepted`);
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 256) {
    throw new JwsFormatError(`${what}: header 'kid' is required (a string of at most 256 characters)`);
  }
  if (header.typ !== undefined && options.typ) {
    if (typeof header.typ !== 'string' || !options.typ.some((t) => t.toLowerCase() === (header.typ as string).toLowerCase())) {
      throw new JwsFormatError(`${what}: header 'typ' must be ${options.typ.join(' or ')}`);
    }
  }
  const payload = decodeSegment(p, what, 'payload');
  return { header, payload, compact };
}
