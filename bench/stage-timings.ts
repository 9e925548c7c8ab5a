/**
 * Where a registration's time goes, from the transitions its history records: queue wait before
 * the verifier picks it up, each stage (its queue wait included), and the whole submit → registered.
 * Read from the store after a phase; the timestamps are the writers' clocks (one machine here).
 */
import type { Registration } from '../core/domain/registration.js';

export interface SegmentSummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
}

const SEGMENTS = [
  ['intake → verifier start', 'submitted', 'verifying'],
  ['verify', 'verifying', 'checking_revocation'],
  ['revocation (incl. queue)', 'checking_revocation', 'provisioning'],
  ['provision (incl. queue)', 'provisioning', 'registered'],
  ['submit → registered', 'submitted', 'registered'],
] as const;

function summary(values: number[]): SegmentSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { count: sorted.length, meanMs: Math.round(mean * 10) / 10, p50Ms: at(0.5), p95Ms: at(0.95) };
}

/** Segment durations of registered, never-replayed registrations. */
export function stageTimings(registrations: readonly Registration[]): Record<string, SegmentSummary> {
  const values = new Map<string, number[]>(SEGMENTS.map(([name]) => [name, []]));
  for (const r of registrations) {
    if (r.status !== 'registered' || r.generation !== 0) continue;
    const at = new Map<string, number>([['submitted', Date.parse(r.submittedAt)]]);
    for (const h of r.history) if (h.event === 'transition' && h.to && !at.has(h.to)) at.set(h.to, Date.parse(h.at));
    for (const [name, from, to] of SEGMENTS) {
      const a = at.get(from);
      const b = at.get(to);
      if (a !== undefined && b !== undefined) values.get(name)?.push(b - a);
    }
  }
  return Object.fromEntries([...values].map(([name, v]) => [name, summary(v)]));
}
