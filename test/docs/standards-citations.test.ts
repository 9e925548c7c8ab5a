/**
 * Every `SPEC §n` that a comment (or README) cites resolves to a section of docs/standards.md, the
 * repo's own digest of the standards (issue 18: no citation of a document outside the repo).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', 'var', '.cache', '.git', 'test-output']);

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|md)$/.test(name) && !path.endsWith(join('docs', 'standards.md'))) out.push(path);
  }
  return out;
}

describe('docs/standards.md', () => {
  it('has a section for every SPEC § cited in the code and the docs', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'standards.md'), 'utf8');
    const sections = new Set([...doc.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
    const missing: string[] = [];
    let cited = 0;
    for (const file of files(ROOT)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/SPEC §(\d+(?:\.\d+)?)/g)) {
        cited += 1;
        if (!sections.has(m[1] as string)) missing.push(`${relative(ROOT, file)}: SPEC §${m[1]}`);
      }
    }
    expect(cited).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
});
