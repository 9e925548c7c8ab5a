/**
 * The README's table of error codes, generated from the registry (core/errors/registry.ts):
 * `npx tsx scripts/errors-table.ts` prints it; test/errors/registry.test.ts checks the README holds
 * exactly this table between its `errors:begin` / `errors:end` markers.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, ERROR_CODES } from '../core/errors/registry.js';

export function errorsTable(): string {
  const rows = ERROR_CODES.map((code) => {
    const spec = ERRORS[code];
    return `| \`${code}\` | ${spec.status} | \`${spec.error}\` | ${spec.stage ?? '—'} | ${spec.summary.replace(/\|/g, '\\|')} |`;
  });
  return ['| code | HTTP | `error` | in a stage | what |', '|---|---|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === '') {
  console.log(errorsTable());
}
