/** Directory identifiers: Base62 organisation and software ids, generated from crypto randomness. */
import { randomInt } from 'node:crypto';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The OB Directory's organisation id prefix (e.g. `0015800001041R…`). */
export const ORG_ID_PREFIX = '00158000';
export const ORG_ID_LENGTH = 18;
export const SOFTWARE_ID_LENGTH = 22;

export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62_ALPHABET[randomInt(BASE62_ALPHABET.length)];
  return out;
}

/** `00158000` + 10 random Base62 characters: 18 characters, the OB legacy org id length. */
export function newOrgId(): string {
  return ORG_ID_PREFIX + randomBase62(ORG_ID_LENGTH - ORG_ID_PREFIX.length);
}

/** 22 random Base62 characters. */
export function newSoftwareId(): string {
  return randomBase62(SOFTWARE_ID_LENGTH);
}

export const ORG_ID_PATTERN = '^[0-9A-Za-z]{1,35}$';
export const SOFTWARE_ID_PATTERN = '^[0-9A-Za-z]{1,22}$';
/** TPP names: a DNS label (also used as a directory name and as the example host name). */
export const TPP_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
