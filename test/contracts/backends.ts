/**
 * The port contract suites (test/contracts/*.contract.test.ts): each port's suite is written once, as
 * a function of a factory, and run over the embedded adapter and the distributed one, against the
 * real servers of the global set-up (`inject('infra')`); the distributed half is skipped when the
 * set-up started none (DCR_TEST_INFRA=off). One port on one backend:
 *   DCR_TEST_KEYCLOAK=off npx vitest run test/contracts/queue.contract.test.ts -t embedded
 * Every test opens its adapter on a namespace (or data directory) of its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, inject } from 'vitest';
import type { InfraUrls } from '../support/pipeline.js';

export type Infra = NonNullable<InfraUrls>;

/** Where one test's adapter lives: a fresh namespace, and a fresh data directory (embedded). */
export interface Place {
  namespace: string;
  dataDir: string;
  /** The infrastructure when the backend is the distributed one. */
  infra: Infra | null;
}

/** Opens the port's adapter (a second call opens another handle on the same place: a restart, another process). */
export type Factory<T> = (place: Place) => Promise<T>;

export interface Backends<T> {
  embedded: Factory<T>;
  distributed: (infra: Infra) => Factory<T>;
}

/** A place for one test; `release()` removes its data directory. */
export type TempPlace = Place & { release(): Promise<void> };

/** A fresh place for one test. */
export async function newPlace(infra: Infra | null): Promise<TempPlace> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dcr-contract-'));
  return { namespace: `c${randomBytes(5).toString('hex')}`, dataDir, infra, release: () => rm(dataDir, { recursive: true, force: true }) };
}

/** The MongoDB URL of a place (a database per namespace, as the pipeline's tests do). */
export function mongoUrlOf(place: Place): string {
  if (!place.infra) throw new Error('no infrastructure: the distributed factory ran without it');
  return `${place.infra.mongoUrl.replace(/\/$/, '')}/dcr_${place.namespace}`;
}

/** Runs `suite` once per backend: `<port> contract, embedded` and `<port> contract, distributed (…)`. */
export function runContract<T>(port: string, backends: Backends<T>, distributedName: string, suite: (open: Factory<T>, fresh: () => Promise<TempPlace>) => void): void {
  const infra = (inject('infra') as InfraUrls) ?? null;
  describe(`${port} contract, embedded`, () => suite(backends.embedded, () => newPlace(null)));
  // Skipped without infrastructure: the suite is still collected, its tests do not run.
  const distributed: Factory<T> = infra ? backends.distributed(infra) : async () => Promise.reject(new Error('no infrastructure'));
  describe.skipIf(!infra)(`${port} contract, distributed (${distributedName})`, () => suite(distributed, () => newPlace(infra)));
}

/** Polls `read` until `done` (bounded); the value. */
export async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
