/**
 * The MongoDB command census (issue 20; DCR_MONGO_COMMAND_CENSUS_DIR): the store's client, against the
 * real mongo-java-server, counts what it sends per command, collection and filter shape, never a value.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CensusWindow } from '../../platform/adapters/mongo/command-census.js';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import type { InfraUrls } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls | null;

describe.skipIf(!infra)('MongoDB command census', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcr-census-'));
    dirs.push(dir);
    return dir;
  };
  const url = (namespace: string) => {
    const u = new URL(infra!.mongoUrl);
    u.pathname = `/dcr_${namespace}`;
    return u.toString();
  };

  it('counts each command by name, collection and filter keys, and writes its window at close', async () => {
    const dir = fresh();
    const namespace = `census${randomUUID().slice(0, 8)}`;
    const store = await MongoStore.connect(url(namespace), namespace, { census: { dir, instance: 'test-service' } });
    const secretId = `secret-${randomUUID()}`;
    for (let i = 0; i < 3; i++) expect(await store.getRegistration(secretId)).toBeNull();
    await store.pendingOutbox(10);
    expect(await store.countInFlight('CN=tpp')).toBe(0);
    await store.close();

    const files = readdirSync(dir);
    expect(files).toEqual([`test-service-${process.pid}.jsonl`]);
    const text = readFileSync(join(dir, files[0] as string), 'utf8');
    expect(text).not.toContain(secretId);
    expect(text).not.toContain('CN=tpp');
    const windows = text.trim().split('\n').map((l) => JSON.parse(l) as CensusWindow);
    const count = (command: string, collection: string, shape: string) =>
      windows.flatMap((w) => w.commands).filter((c) => c.command === command && c.collection === `${namespace}_${collection}` && c.shape === shape).reduce((n, c) => n + c.count, 0);
    expect(count('find', 'registrations', '_id limit')).toBe(3);
    // the relay's scan: one find per collection, on the filter mongo-java-server has no index for
    expect(count('find', 'registrations', 'outbox.id limit sort:updatedAt')).toBe(1);
    expect(count('find', 'clients', 'outbox.id limit sort:updatedAt')).toBe(1);
    expect(count('aggregate', 'registrations', 'certificate.tppIdentity,status')).toBe(1);
    // the start-up's index creation is counted too
    expect(count('createIndexes', 'registrations', '')).toBeGreaterThan(0);
    const finds = windows.flatMap((w) => w.commands).filter((c) => c.command === 'find' && c.shape === '_id limit');
    expect(finds.every((c) => c.failed === 0 && c.replyBytes > 0)).toBe(true);
    expect(windows.every((w) => w.instance === 'test-service' && w.pid === process.pid)).toBe(true);
  });
});
