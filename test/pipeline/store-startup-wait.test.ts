/**
 * A distributed service started while MongoDB cannot be reached waits for it (DCR_STORE_STARTUP_WAIT_MS)
 * instead of exiting: the chaos run's provisioner, restarted while MongoDB answered slowly, exited on
 * server selection and was counted as an unexpected exit.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DependencyUnavailable } from '../../core/errors/dependency-unavailable.js';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import { TcpProxy } from '../../testkit/tcp-proxy.js';
import type { InfraUrls } from '../support/pipeline.js';

const infra = inject('infra') as InfraUrls | null;

describe.skipIf(!infra)('MongoStore.connect at start-up', () => {
  const proxies: TcpProxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  async function unreachableMongo(): Promise<{ proxy: TcpProxy; url: string; namespace: string }> {
    const target = new URL(infra!.mongoUrl);
    const proxy = await TcpProxy.start({ name: 'mongo', targets: [{ host: target.hostname, port: Number(target.port) }] });
    proxies.push(proxy);
    proxy.setMode('reset');
    const namespace = `wait${randomUUID().slice(0, 8)}`;
    return { proxy, url: `mongodb://127.0.0.1:${proxy.port}/dcr_${namespace}`, namespace };
  }

  it('waits while MongoDB cannot be reached, then connects when it answers', async () => {
    const { proxy, url, namespace } = await unreachableMongo();
    const waits: unknown[] = [];
    const store = await MongoStore.connect(url, namespace, {
      startupWaitMs: 60_000,
      onWait: (_attempt, error) => {
        waits.push(error);
        proxy.setMode('pass'); // MongoDB is back after the first failed attempt
      },
    });
    try {
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeInstanceOf(DependencyUnavailable);
      expect(await store.getRegistration('no-such-request')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('with no wait, one attempt: the failure is DependencyUnavailable (the service exits with it)', async () => {
    const { url, namespace } = await unreachableMongo();
    await expect(MongoStore.connect(url, namespace, { startupWaitMs: 0 })).rejects.toBeInstanceOf(DependencyUnavailable);
  });
});
