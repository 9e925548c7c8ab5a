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

export const newRequestId = (): string => randomUUID();
/** Client ids: 22 Base62 chars (~131 bits), inside the OBIE `client_id` 1..36 limit. */
export const newClientId = (): string => randomBase62(22);
export const newEventId = (): string => randomUUID();
/** Registration access tokens: 43 Base62 chars (~256 bits). */
export const newAccessToken = (): string => randomBase62(43);

export function sha256Base64url(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('base64url');
}
