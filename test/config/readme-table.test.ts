/**
 * README's configuration tables are rendered from the configuration table
 * (platform/config/variables.ts) by `npm run docs:config`; this fails when README is out of step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentedRows, renderTable, TABLES, withTables } from '../../platform/config/docs.js';

const README = join(import.meta.dirname, '..', '..', 'README.md');

describe('README configuration tables', () => {
  it('are the rendering of platform/config/variables.ts (run npm run docs:config after changing it)', () => {
    const readme = readFileSync(README, 'utf8');
    for (const which of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
      const { begin, end } = TABLES[which];
      const from = readme.indexOf(begin);
      const to = readme.indexOf(end);
      expect(from, `README.md has the ${which} table's markers`).toBeGreaterThan(0);
      expect(readme.slice(from + begin.length, to).trim(), `README.md ${which} table`).toBe(renderTable(which));
    }
    expect(withTables(readme)).toBe(readme);
  });

  it('document every variable once, with its meaning and default', () => {
    const rows = documentedRows();
    const names = rows.flatMap((r) => [r.env, ...(r.also ?? [])]);
    expect(new Set(names).size).toBe(names.length);
    const readme = readFileSync(README, 'utf8');
    const tables = (Object.keys(TABLES) as (keyof typeof TABLES)[]).map((w) => renderTable(w)).join('\n');
    for (const row of rows) {
      expect(row.doc.trim().length, row.env).toBeGreaterThan(3);
      for (const name of [row.env, ...(row.also ?? [])]) {
        expect(tables, name).toContain(`\`${name}\``);
        expect(readme, name).toContain(`\`${name}\``);
      }
    }
    // every row has three cells (a | inside a cell would split it)
    for (const line of tables.split('\n')) expect(line.split(/(?<!\\)\|/).length, line).toBe(5);
  });
});
