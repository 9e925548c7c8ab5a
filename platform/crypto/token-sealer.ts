import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Base64url } from '../../core/domain/ids.js';

/**
 * Seals the registration access token (AES-256-GCM) for the short window in which the submitter may
 * still collect its registration (sync answer, poll, idempotent resubmit). The client record only
 * ever holds the token's SHA-256.
 */
export class TokenSealer {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('token sealing key must be 32 bytes');
    this.#key = key;
  }

  /** From `DCR_TOKEN_SEALING_KEY`, else a key generated once under the data directory (mode 0600). */
  static load(configured: string | undefined, dataDir: string): TokenSealer {
    if (configured) return new TokenSealer(Buffer.from(configured, 'base64'));
    const file = join(dataDir, 'keys', 'token-sealing.key');
    if (!existsSync(file)) {
      // Services starting together race here: the key is written whole to a file of its own, then
      // linked into place (atomic; the first link wins, the others read the winner's key).
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      writeFileSync(tmp, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
      try {
        linkSync(tmp, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        unlinkSync(tmp);
      }
    }
    chmodSync(dirname(file), 0o700);
    chmodSync(file, 0o600);
    return new TokenSealer(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  open(sealed: string, context: string): string {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  }
}

export const hashToken = (token: string): string => sha256Base64url(token);

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(presented));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
