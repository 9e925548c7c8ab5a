import { flatten, type DocumentedVariable, type Setting } from './settings.js';
import { DOCUMENTED_ONLY, VARIABLES } from './variables.js';

/**
 * README's configuration tables, rendered from the table (platform/config/variables.ts):
 * `npm run docs:config` writes them between the markers, test/config/readme-table.test.ts fails when
 * README is out of step.
 */

export const TABLES = {
  dcr: { begin: '<!-- config-table:dcr begin (npm run docs:config writes this table from platform/config/variables.ts) -->', end: '<!-- config-table:dcr end -->' },
  otel: { begin: '<!-- config-table:otel begin (npm run docs:config writes this table from platform/config/variables.ts) -->', end: '<!-- config-table:otel end -->' },
} as const;

type Row = Pick<Setting, 'env' | 'also' | 'doc' | 'defaultDoc' | 'secret' | 'requiredOutsideSandbox' | 'default'> & { optional?: boolean };

/** A constant default as README shows it. */
function constant(value: unknown): string {
  if (value === '') return 'empty';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : `\`${value.join(',')}\``;
  if (typeof value === 'boolean') return value ? '`1`' : '`0`';
  return `\`${String(value)}\``;
}

function defaultCell(row: Row): string {
  let text: string;
  if (row.defaultDoc !== undefined) text = row.defaultDoc;
  else if (row.default !== undefined && typeof row.default !== 'function') text = constant(row.default);
  else if (row.default === undefined && row.optional) text = 'unset';
  else throw new Error(`configuration table: ${row.env} needs a defaultDoc (its default is computed)`);
  return row.requiredOutsideSandbox ? `${text}; **required** outside the sandbox` : text;
}

function line(row: Row): string {
  const names = [row.env, ...(row.also ?? [])].map((v) => `\`${v}\``).join(', ');
  const cells = [`${names}${row.secret ? ' (secret: never printed)' : ''}`, row.doc, defaultCell(row)];
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
}

/** Every documented variable: the settings, then the ones other components read themselves. */
export function documentedRows(): Row[] {
  const settings: Row[] = flatten(VARIABLES).map(({ setting }) => setting);
  const others: Row[] = DOCUMENTED_ONLY.map((d: DocumentedVariable) => ({ ...d }));
  return [...settings, ...others];
}

export function renderTable(which: keyof typeof TABLES): string {
  const rows = documentedRows().filter((row) => (which === 'dcr' ? row.env.startsWith('DCR_') : !row.env.startsWith('DCR_')));
  return ['| variable | meaning | default |', '|---|---|---|', ...rows.map(line)].join('\n');
}

/** README with both tables replaced by their rendering; throws when a marker is missing. */
export function withTables(readme: string): string {
  let out = readme;
  for (const which of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
    const { begin, end } = TABLES[which];
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md: the markers ${begin} … ${end} are missing`);
    out = `${out.slice(0, from + begin.length)}\n${renderTable(which)}\n${out.slice(to)}`;
  }
  return out;
}
