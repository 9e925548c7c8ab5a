/**
 * The rooms of the tree and which way their imports may point, checked on every build
 * (`npm run build` runs `npm run check:layers` first) and by test/docs/layers.test.ts.
 *
 *   core/       the pipeline's rules and shapes: imports core/ only (and npm packages)
 *   platform/   drivers, HTTP, JOSE, PKI, configuration, runtime wiring: core/ and platform/
 *   services/X  one service: core/, platform/ and services/X itself, never another service
 *   sandbox/    npm start, the sandbox directory and AS, the CLI: anything product; nothing
 *               product imports it
 *   testkit/    real-infrastructure starters for test/, bench/ and scripts/: never test/
 *   bench/, scripts/   anything but test/
 *   test/       anything
 *
 * Every import counts: static, `import type`, `export … from` and dynamic `import('…')` with a
 * literal specifier. The rules are about relative specifiers (the tree's own files); npm packages
 * are free, except that product rooms may not import `vitest`, and the drivers (DRIVERS below) are
 * imported in platform/adapters/ only: a port's implementation lives there, never in a service.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const ROOMS = ['core', 'platform', 'services', 'sandbox', 'testkit', 'bench', 'scripts', 'test'] as const;
type Room = (typeof ROOMS)[number];

/** Where `file` (repository-relative, `/`-separated) lives: its room and, under services/, its service. */
export function roomOf(file: string): { room: Room | null; service?: string } {
  const [top, second] = file.split('/');
  const room = (ROOMS as readonly string[]).includes(top ?? '') ? (top as Room) : null;
  return room === 'services' && second && file.split('/').length > 2 ? { room, service: second } : { room };
}

const MAY_IMPORT: Record<Room, readonly Room[]> = {
  core: ['core'],
  platform: ['core', 'platform'],
  services: ['core', 'platform', 'services'],
  sandbox: ['core', 'platform', 'services', 'sandbox'],
  testkit: ['core', 'platform', 'services', 'sandbox', 'testkit'],
  bench: ['core', 'platform', 'services', 'sandbox', 'testkit', 'bench'],
  scripts: ['core', 'platform', 'services', 'sandbox', 'testkit', 'scripts'],
  test: ROOMS,
};
const PRODUCT: readonly Room[] = ['core', 'platform', 'services'];
/** Driver packages: only platform/adapters/ (and the rooms outside the product: sandbox excepted) import them. */
const DRIVERS = ['mongodb', 'ioredis', 'better-sqlite3', 'kafkajs', 'bullmq'];
const DRIVER_ROOMS_OUTSIDE_ADAPTERS: readonly Room[] = ['testkit', 'bench', 'scripts', 'test'];

export interface Violation {
  file: string;
  specifier: string;
  target: string;
  rule: string;
}

/** The import specifiers of one TypeScript source (static, type-only, re-exports, literal dynamic imports). */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The repository-relative file a relative specifier of `from` names (`.js` → `.ts`), or the plain join when no file matches. */
export function resolveSpecifier(from: string, specifier: string, exists: (file: string) => boolean): string {
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [joined.replace(/\.js$/, '.ts'), joined, `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find(exists) ?? joined;
}

export function ruleFor(file: string, target: string): string | null {
  const from = roomOf(file);
  const to = roomOf(target);
  if (!from.room || !to.room) return null;
  if (!MAY_IMPORT[from.room].includes(to.room)) return `${from.room}/ may not import ${to.room}/`;
  if (from.room === 'services' && to.room === 'services' && from.service !== to.service) {
    return `services/${from.service}/ may not import another service (services/${to.service}/): move what both need to core/ or platform/`;
  }
  return null;
}

/** Every `.ts` file of the checked rooms, repository-relative. */
export function sourceFiles(root: string = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir))) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const rel = dir ? `${dir}/${name}` : name;
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (rel.endsWith('.ts')) out.push(rel);
    }
  };
  for (const room of ROOMS) if (existsSync(join(root, room))) walk(room);
  return out.sort();
}

/**
 * Checks every file's imports against the rooms' rules. `overlay` adds or replaces files (path →
 * source) without touching the disk: how a test proves that a wrong-direction import is refused.
 */
export function checkLayers(root: string = ROOT, overlay: Record<string, string> = {}): Violation[] {
  const files = [...new Set([...sourceFiles(root), ...Object.keys(overlay)])];
  const known = new Set(files);
  const exists = (file: string) => known.has(file) || existsSync(join(root, file));
  const violations: Violation[] = [];
  for (const file of files) {
    const source = overlay[file] ?? readFileSync(join(root, file), 'utf8');
    const room = roomOf(file).room;
    for (const specifier of importsOf(source)) {
      if (specifier === 'vitest' && room && PRODUCT.includes(room)) {
        violations.push({ file, specifier, target: specifier, rule: `${room}/ is product code and may not import vitest` });
        continue;
      }
      const pkg = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
      if (pkg && DRIVERS.includes(pkg) && room && !file.startsWith('platform/adapters/') && !DRIVER_ROOMS_OUTSIDE_ADAPTERS.includes(room)) {
        violations.push({ file, specifier, target: specifier, rule: `the driver ${pkg} is imported in platform/adapters/ only (put the port in core/ports/ and its implementation there)` });
        continue;
      }
      if (!specifier.startsWith('.')) continue;
      const target = resolveSpecifier(file, specifier, exists);
      const rule = ruleFor(file, target);
      if (rule) violations.push({ file, specifier, target, rule });
    }
  }
  return violations;
}

/** The files `entry` reaches through relative imports (the module graph of one entry point). */
export function moduleGraph(entry: string, root: string = ROOT): string[] {
  const seen = new Set<string>();
  const exists = (file: string) => existsSync(join(root, file));
  const visit = (file: string) => {
    if (seen.has(file) || !exists(file)) return;
    seen.add(file);
    for (const specifier of importsOf(readFileSync(join(root, file), 'utf8'))) {
      if (specifier.startsWith('.')) visit(resolveSpecifier(file, specifier, exists));
    }
  };
  visit(entry);
  return [...seen].sort();
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === '') {
  const violations = checkLayers();
  for (const v of violations) console.error(`${v.file.split('/').join(sep)}: imports '${v.specifier}' (${v.target}): ${v.rule}`);
  if (violations.length > 0) {
    console.error(`layers: ${violations.length} wrong-direction import${violations.length === 1 ? '' : 's'} (the rules: scripts/layers.ts)`);
    process.exit(1);
  }
  console.error(`layers: ${sourceFiles().length} files, every import points the allowed way`);
}
