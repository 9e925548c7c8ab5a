/** The result file of a chaos run: machine, commit, settings, timeline, counters and invariants. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export { gitInfo, machineInfo } from '../../bench/run-context.js';

/** Writes `result` as indented JSON (Maps are not expected: callers pass plain data). */
export function writeResult(file: string, result: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}
