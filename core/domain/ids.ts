import { createHash, randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random Base62 string (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * A UUID version 7 (RFC 9562, "UUID Version 7"): the millisecond Unix time in its first 48 bits, then 74 random
 * bits. Ids minted close in time sort close together, so a store's primary key and the keys derived
 * from it (a registration's parts, its jobs) are appended where the last ones went instead of landing
 * on a random index page: one page written per commit for a batch of new requests, not one each.
 * The time is when the request arrived, which its record says anyway (`submitted_at`).
 */
export function uuidV7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const newRequestId = (): string => uuidV7();
/** Client ids: 22 Base62 chars (~131 bits), inside the OBIE `client_id` 1..36 limit. */
export const newClientId = (): string => randomBase62(22);
export const newEventId = (): string => randomUUID();
/**
 * An event id derived from what the event records (e.g. the request that created a client), shaped
 * like a UUID: every attempt at the same change writes the same id, so a barrier or a consumer can
 * name the event before it is stored, and a retried write cannot mint a second one.
 */
export function derivedEventId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
/** Registration access tokens: 43 Base62 chars (~256 bits). */
export const newAccessToken = (): string => randomBase62(43);

export function sha256Base64url(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('base64url');
}
