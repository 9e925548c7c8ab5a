/**
 * `npm run docs:config`: writes README's configuration tables (the DCR_* one under "Configuration",
 * the OTEL_* one under "Tracing") from the configuration table, platform/config/variables.ts.
 * `--check` only reports whether README is in step (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withTables } from '../platform/config/docs.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const current = readFileSync(README, 'utf8');
const next = withTables(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md: the configuration tables are out of step with platform/config/variables.ts: run npm run docs:config');
    process.exit(1);
  }
  console.log('README.md: the configuration tables are in step');
} else if (next !== current) {
  writeFileSync(README, next);
  console.log('README.md: configuration tables rewritten');
} else {
  console.log('README.md: configuration tables already in step');
}
