import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TokenSealer } from '../../platform/crypto/token-sealer.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('TokenSealer.load without DCR_TOKEN_SEALING_KEY', () => {
  it('services starting together agree on one generated key (no crash, no empty key file)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dcr-sealer-race-'));
    try {
      const code = `import { TokenSealer } from './platform/crypto/token-sealer.ts';
        process.stdout.write(TokenSealer.load(undefined, ${JSON.stringify(dataDir)}).seal('token', 'ctx'));`;
      const sealed = await Promise.all(
        Array.from({ length: 6 }, () => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO }).then((r) => r.stdout)),
      );
      const sealer = TokenSealer.load(undefined, dataDir);
      for (const s of sealed) expect(sealer.open(s, 'ctx')).toBe('token');
      expect(await readdir(join(dataDir, 'keys'))).toEqual(['token-sealing.key']);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
