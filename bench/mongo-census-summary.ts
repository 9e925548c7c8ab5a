/**
 * Issue 20: compares the MongoDB command census (platform/adapters/mongo/command-census.ts) of a chaos
 * run before and after its MongoDB restart, with mongo-java-server's CPU (bench/mongo-cpu-sampler.py).
 *
 *   DCR_MONGO_COMMAND_CENSUS_DIR=/tmp/census npm run chaos -- --faults mongo --fault-at 0.4 --name X …
 *   python3 bench/mongo-cpu-sampler.py 600 > /tmp/cpu.jsonl     (alongside)
 *   npx tsx bench/mongo-census-summary.ts /tmp/census bench/results/chaos-X.json /tmp/cpu.jsonl > bench/results/mongo-census-X.json
 *
 * Phases: `before` from 20 s into the load to the kill; `after` from 20 s after the server is back to
 * the end of the load (a census window counts in a phase when it lies inside it). Rates per second,
 * per service (its instances summed), per command kind (name, collection, filter shape).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CensusWindow } from '../platform/adapters/mongo/command-census.js';

const [dir, resultFile, cpuFile] = process.argv.slice(2);
if (!dir || !resultFile) {
  process.stderr.write('usage: npx tsx bench/mongo-census-summary.ts CENSUS_DIR CHAOS_RESULT.json [CPU.jsonl]\n');
  process.exit(2);
}
interface Fault { startedAt: string; atSeconds: number; outageMs: number }
const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { faults: Fault[]; load: { wallSeconds: number }; processes: { figures: { name: string; pid: number }[] } };
// this run's mongo-java-server (before and after its restart): the sampler sees every one on the machine
const mongoPids = new Set(result.processes.figures.filter((p) => p.name === 'mongo').map((p) => p.pid));
const fault = result.faults[0];
if (!fault) throw new Error('no fault in the result');
const killAt = Date.parse(fault.startedAt);
const loadStart = killAt - fault.atSeconds * 1000;
const loadEnd = loadStart + result.load.wallSeconds * 1000;
const phases = { before: [loadStart + 20_000, killAt], after: [killAt + fault.outageMs + 20_000, loadEnd] } as const;
type Phase = keyof typeof phases;

const windows: CensusWindow[] = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line.trim()) windows.push(JSON.parse(line) as CensusWindow);
}
const phaseOf = (from: number, to: number): Phase | undefined => (Object.keys(phases) as Phase[]).find((p) => from >= phases[p][0] && to <= phases[p][1]);

interface Acc { count: number; failed: number; durationMs: number; replyBytes: number }
const acc = new Map<string, Record<Phase, Acc>>();
const seconds: Record<Phase, Map<string, number>> = { before: new Map(), after: new Map() };
const pool = new Map<string, Record<Phase, { created: number; closed: number; heartbeats: number }>>();
const zero = (): Acc => ({ count: 0, failed: 0, durationMs: 0, replyBytes: 0 });
for (const w of windows) {
  const p = phaseOf(w.from, w.to);
  if (!p) continue;
  // seconds of census per service and pid (instances are summed: rate = count / phase length)
  seconds[p].set(w.instance, Math.max(seconds[p].get(w.instance) ?? 0, (phases[p][1] - phases[p][0]) / 1000));
  for (const c of w.commands) {
    const key = `${w.instance} | ${c.command} ${c.collection.replace(/^[a-z0-9]+_/, '')} {${c.shape}}`;
    const a = acc.get(key) ?? { before: zero(), after: zero() };
    a[p].count += c.count;
    a[p].failed += c.failed;
    a[p].durationMs += c.durationMs;
    a[p].replyBytes += c.replyBytes;
    acc.set(key, a);
  }
  const q = pool.get(w.instance) ?? { before: { created: 0, closed: 0, heartbeats: 0 }, after: { created: 0, closed: 0, heartbeats: 0 } };
  q[p].created += w.pool.created;
  q[p].closed += w.pool.closed;
  q[p].heartbeats += w.heartbeats.succeeded + w.heartbeats.failed;
  pool.set(w.instance, q);
}
const len = (p: Phase) => (phases[p][1] - phases[p][0]) / 1000;
const r2 = (n: number) => Math.round(n * 100) / 100;
const rows = [...acc.entries()].map(([key, a]) => ({
  key,
  perSecond: { before: r2(a.before.count / len('before')), after: r2(a.after.count / len('after')) },
  meanMs: { before: a.before.count ? r2(a.before.durationMs / a.before.count) : null, after: a.after.count ? r2(a.after.durationMs / a.after.count) : null },
  replyKBPerSecond: { before: r2(a.before.replyBytes / 1024 / len('before')), after: r2(a.after.replyBytes / 1024 / len('after')) },
  failed: { before: a.before.failed, after: a.after.failed },
}));
rows.sort((x, y) => y.perSecond.after - y.perSecond.before - (x.perSecond.after - x.perSecond.before));
const total = (p: Phase) => r2(rows.reduce((s, r) => s + r.perSecond[p], 0));
const byService: Record<string, Record<Phase, number>> = {};
for (const r of rows) {
  const s = r.key.split(' | ')[0] as string;
  byService[s] ??= { before: 0, after: 0 };
  byService[s].before = r2(byService[s].before + r.perSecond.before);
  byService[s].after = r2(byService[s].after + r.perSecond.after);
}

let cpu: Record<Phase, { coresUsed: number; byThread: Record<string, number>; gcSeconds: number; fullGc: number; oldUsedMbLast: number | null }> | undefined;
if (cpuFile) {
  cpu = { before: { coresUsed: 0, byThread: {}, gcSeconds: 0, fullGc: 0, oldUsedMbLast: null }, after: { coresUsed: 0, byThread: {}, gcSeconds: 0, fullGc: 0, oldUsedMbLast: null } };
  let last = 0;
  for (const line of readFileSync(cpuFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const s = JSON.parse(line) as { t: number; pid: number; cpuSeconds: number; byThread: Record<string, number>; gc?: { gcSecondsDelta: number; fullGcDelta: number; oldUsedMb: number } };
    if (!mongoPids.has(s.pid)) continue;
    const t = s.t * 1000;
    // a sample covers the ≈10 s before it
    const p = phaseOf(t - 10_000, t);
    if (p && last) {
      const c = cpu[p];
      c.coresUsed += s.cpuSeconds;
      for (const [k, v] of Object.entries(s.byThread)) c.byThread[k] = r2((c.byThread[k] ?? 0) + v);
      if (s.gc) {
        c.gcSeconds = r2(c.gcSeconds + s.gc.gcSecondsDelta);
        c.fullGc += s.gc.fullGcDelta;
        c.oldUsedMbLast = s.gc.oldUsedMb;
      }
    }
    last = t;
  }
  for (const p of Object.keys(cpu) as Phase[]) cpu[p].coresUsed = r2(cpu[p].coresUsed / len(p));
}

// Per 20 s of load time: commands (all services) and the server's CPU, to compare runs at the same
// collection size (mongo-java-server scans a collection for any query its unique indexes do not serve).
const bins = new Map<number, { commands: number; cpuSeconds: number; cpuSamples: number }>();
const binOf = (t: number) => Math.floor((t - loadStart) / 20_000) * 20;
for (const w of windows) {
  const b = binOf((w.from + w.to) / 2);
  const e = bins.get(b) ?? { commands: 0, cpuSeconds: 0, cpuSamples: 0 };
  e.commands += w.commands.reduce((n, c) => n + c.count, 0);
  bins.set(b, e);
}
if (cpuFile) {
  for (const line of readFileSync(cpuFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const s = JSON.parse(line) as { t: number; pid: number; cpuSeconds: number };
    if (!mongoPids.has(s.pid)) continue;
    const b = binOf(s.t * 1000 - 5000);
    const e = bins.get(b) ?? { commands: 0, cpuSeconds: 0, cpuSamples: 0 };
    e.cpuSeconds += s.cpuSeconds;
    e.cpuSamples++;
    bins.set(b, e);
  }
}
const timeline = [...bins.entries()]
  .filter(([b]) => b >= 0 && b * 1000 < loadEnd - loadStart)
  .sort((a, b) => a[0] - b[0])
  .map(([b, e]) => ({ loadSecond: b, commandsPerSecond: r2(e.commands / 20), mongoCpuSeconds: r2(e.cpuSeconds), cpuMsPerCommand: e.commands ? r2((e.cpuSeconds * 1000) / e.commands) : null }));

const out = {
  census: dir,
  result: resultFile,
  phases: { before: { from: new Date(phases.before[0]).toISOString(), seconds: len('before') }, after: { from: new Date(phases.after[0]).toISOString(), seconds: len('after') } },
  commandsPerSecond: { before: total('before'), after: total('after') },
  ...(cpu
    ? { mongoCpu: cpu, cpuMsPerCommand: { before: r2((cpu.before.coresUsed * 1000) / total('before')), after: r2((cpu.after.coresUsed * 1000) / total('after')) } }
    : {}),
  timeline,
  byService,
  pool: Object.fromEntries(pool),
  byKind: rows,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
