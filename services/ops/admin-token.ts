import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../platform/config/schema.js';
import { ConfigurationError } from '../../core/domain/errors.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

export interface AdminToken {
  token: string;
  /** Where it came from: `DCR_ADMIN_TOKEN`, or the sandbox file (generated now, or by an earlier start). */
  source: 'config' | 'generated' | 'file';
  file?: string;
}

/**
 * The admin token: `DCR_ADMIN_TOKEN`; outside the sandbox nothing else (the admin API refuses to
 * start). In the sandbox without one, the token of `DCR_DATA_DIR/admin-token` (mode 0600), which is
 * generated on first start, so the CLI finds it and it survives restarts.
 */
export async function resolveAdminToken(config: Pick<Config, 'admin' | 'sandbox' | 'dataDir'>): Promise<AdminToken> {
  if (config.admin.token) return { token: config.admin.token, source: 'config' };
  if (!config.sandbox) {
    throw new ConfigurationError('DCR_ADMIN_TOKEN', 'the admin API needs a token (at least 16 characters) outside the sandbox; refusing to start without one');
  }
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  const existing = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    },
  );
  if (/^[\x21-\x7e]{16,}$/.test(existing)) {
    await chmod(file, 0o600);
    return { token: existing, source: 'file', file };
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { token, source: 'generated', file };
}
