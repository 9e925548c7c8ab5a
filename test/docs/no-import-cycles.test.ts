/**
 * No import cycle among the product and CLI modules (core/, platform/, services/, sandbox/cli/): a
 * cycle makes module initialisation order matter (an import seen half-initialised) and says two
 * files are one piece of code split in the wrong place. Every import counts, type-only ones too
 * (they are the same dependency for a reader). Reads the sources as text with scripts/layers.ts's
 * `importsOf`/`resolveSpecifier`: cheap, no compiler program.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, resolveSpecifier, ROOT, sourceFiles } from '../../scripts/layers.js';

const CHECKED = /^(core|platform|services|sandbox\/cli)\//;

/** The strongly connected components of more than one file (or a file importing itself): Tarjan's algorithm. */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) connect(v);
  return cycles;
}

describe('import cycles', () => {
  it('finds a cycle when there is one (the check works)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('core/, platform/, services/ and sandbox/cli/ have none', () => {
    const files = sourceFiles().filter((f) => CHECKED.test(f));
    const known = new Set(files);
    const exists = (file: string) => known.has(file) || existsSync(join(ROOT, file));
    const graph = new Map<string, string[]>();
    for (const file of files) {
      const targets = importsOf(readFileSync(join(ROOT, file), 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => resolveSpecifier(file, s, exists))
        .filter((t) => known.has(t));
      graph.set(file, targets);
    }
    expect(files.length).toBeGreaterThan(100);
    expect([...graph.values()].flat().length).toBeGreaterThan(files.length); // the imports were resolved
    expect(importCycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });
});
