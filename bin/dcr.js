#!/usr/bin/env node
// The `dcr` command. Runs the compiled CLI (npm run build, which npm start does for you).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(compiled)) {
  process.stderr.write('dcr: the CLI is not built yet; run `npm run build` (or `npm start`) first\n');
  process.exit(1);
}
const { run } = await import(pathToFileURL(compiled).href);
await run(process.argv);
