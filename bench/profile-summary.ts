/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, or DCR_BENCH_CPU_PROF_DIR for the services of
 * the distributed scenario): seconds of self time per function and per file/package, and inclusive
 * time per function. `npx tsx bench/profile-summary.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const sampled = new Map<number, number>();
profile.samples.forEach((id, i) => sampled.set(id, (sampled.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const relative = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|shared|services|bench|test)\//, '$1/');
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${relative(n.callFrame.url)}:${n.callFrame.lineNumber}`;
const fileOf = (n: ProfileNode) => {
  const url = relative(n.callFrame.url);
  if (!url.startsWith('node_modules/')) return url || '(native / idle / GC)';
  const parts = url.split('/');
  return parts.slice(0, parts[1]?.startsWith('@') ? 3 : 2).join('/');
};

const self = new Map<string, number>();
const files = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, micros] of sampled) {
  const node = byId.get(id);
  if (!node) continue;
  self.set(label(node), (self.get(label(node)) ?? 0) + micros);
  files.set(fileOf(node), (files.get(fileOf(node)) ?? 0) + micros);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    if (!n || seen.has(label(n))) continue;
    seen.add(label(n));
    inclusive.set(label(n), (inclusive.get(label(n)) ?? 0) + micros);
  }
}
const table = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${(us / 1e6).toFixed(2).padStart(8)}  ${k}`).join('\n');
process.stdout.write(`# ${file}\n# seconds; 'self' = in the function itself, 'inclusive' = with its callees\n`);
process.stdout.write(`--- self\n${table(self, top)}\n--- by file / package (self)\n${table(files, 25)}\n--- inclusive\n${table(inclusive, top)}\n`);
