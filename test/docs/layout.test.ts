import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** README's Layout block: the tree as a newcomer reads it, kept naming every folder of the rooms. */
describe("README's Layout section", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));
  const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const dirs = (parent: string) => readdirSync(join(ROOT, parent)).filter((n) => statSync(join(ROOT, parent, n)).isDirectory());

  it('has a tree', () => {
    expect(block.length).toBeGreaterThan(500);
  });

  it.each(['core', 'platform', 'services', 'sandbox', 'platform/adapters'])('names every folder of %s/', (parent) => {
    const missing = dirs(parent).filter((name) => !new RegExp(`(^|[\\s/])${name}/`, 'm').test(block));
    expect(missing, `folders of ${parent}/ missing from README's Layout block`).toEqual([]);
  });

  it('names every file of testkit/ that is code', () => {
    const files = readdirSync(join(ROOT, 'testkit')).filter((n) => n.endsWith('.ts'));
    expect(files.filter((f) => !block.includes(f))).toEqual([]);
  });

  it('names only folders that exist', () => {
    const named = [...block.matchAll(/^ {2}([a-z-]+)\/ /gm)].map((m) => m[1] ?? '');
    const existing = new Set(['core', 'platform', 'services', 'sandbox'].flatMap(dirs));
    expect(named.filter((n) => !existing.has(n))).toEqual([]);
  });
});
