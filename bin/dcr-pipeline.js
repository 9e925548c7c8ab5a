#!/usr/bin/env node
// The `dcr-pipeline` command (named after this package, so that `npx dcr-pipeline` in the checkout
// runs this file and never an unrelated public package). Runs the compiled CLI (npm run build,
// which npm start does for you). Exit codes: sandbox/cli/exit.ts and README "The CLI".
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'sandbox', 'cli', 'main.js');
if (!existsSync(compiled)) {
  process.stderr.write('dcr-pipeline: the CLI is not built yet; run `npm run build` (or `npm start`) in the checkout first\n');
  process.exit(7);
}
const { run } = await import(pathToFileURL(compiled).href);
await run(process.argv);
