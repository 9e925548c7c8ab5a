/**
 * The events barrier (platform/adapters/authorization-server/events.ts) on the real buses: the
 * embedded SQLite log and Kafka. It may pass only once the client's outbox entry is published and
 * every named group has committed its offset past the event; a group whose handler is still busy
 * with the event, or that never subscribed, holds it back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EventsBarrierAuthorizationServer } from '../../platform/adapters/authorization-server/events.js';
import { loadConfig } from '../../platform/config/load.js';
import type { Client } from '../../core/domain/client.js';
import { clientEvent, TOPICS } from '../../core/domain/events.js';
import { derivedEventId } from '../../core/domain/ids.js';
import { OutboxRelay } from '../../core/outbox/relay.js';
import type { DeliveredEvent, Subscription } from '../../core/ports/events.js';
import { openAdapters, type Adapters } from '../../platform/runtime/adapters.js';
import type { InfraUrls } from '../support/pipeline.js';
import { aClient } from '../support/client.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + Kafka)', infra ?? null],
];


describe.each(adapterSets)('ConsumerProgress and the events barrier, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;
  let dir: string;
  let adapters: Adapters;
  let relay: OutboxRelay;
  const subscriptions: Subscription[] = [];
  const releases: Array<() => void> = [];

  beforeEach(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'dcr-progress-'));
    const namespace = `p${randomBytes(4).toString('hex')}`;
    const config = loadConfig({
      DCR_DATA_DIR: dir,
      DCR_SANDBOX: '1',
      DCR_NAMESPACE: namespace,
      DCR_LOG_LEVEL: 'silent',
      ...(infraUrls ? { DCR_MONGO_URL: `${infraUrls.mongoUrl.replace(/\/$/, '')}/dcr_${namespace}`, DCR_REDIS_URL: infraUrls.redisUrl, DCR_KAFKA_BROKERS: infraUrls.kafkaBrokers } : {}),
    });
    adapters = await openAdapters(config, 'progress-test');
    await adapters.bus.ensureTopics();
    relay = new OutboxRelay(adapters.store, adapters.bus, adapters.queue, { owner: 'progress-test' });
  });
  afterEach(async () => {
    if (skip) return;
    for (const release of releases.splice(0)) release();
    await Promise.all(subscriptions.splice(0).map((s) => s.close()));
    await adapters.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A consumer group whose handler, while `held`, waits for the returned release. */
  async function group(groupId: string, options: { held?: boolean } = {}) {
    const seen: DeliveredEvent[] = [];
    let entered: (e: DeliveredEvent) => void = () => {};
    const first = new Promise<DeliveredEvent>((resolve) => (entered = resolve));
    let release: () => void = () => {};
    const gate = options.held ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    releases.push(() => release());
    subscriptions.push(
      await adapters.bus.subscribe({ groupId, topics: [TOPICS.client], fromBeginning: true }, async (event) => {
        entered(event);
        await gate;
        seen.push(event);
      }),
    );
    return { seen, first, release: () => release() };
  }

  it.skipIf(skip)('false until the event is published and each group has committed past it; true once all have', async () => {
    const fast = await group('fast');
    const slow = await group('slow', { held: true });
    const clientId = `c${randomBytes(6).toString('hex')}`;
    const client = aClient(clientId);
    const eventId = derivedEventId('dcr.client.created', client.requestId);
    await adapters.store.insertClient(client, [clientEvent('dcr.client.created', client, new Date(), undefined, eventId)]);
    const both = new EventsBarrierAuthorizationServer({ store: adapters.store, bus: adapters.bus, groups: ['fast', 'slow'] });
    const fastOnly = new EventsBarrierAuthorizationServer({ store: adapters.store, bus: adapters.bus, groups: ['fast'] });
    const change = (ms: number) => ({ clientId, eventId, deadline: Date.now() + ms });

    if (adapters.store.outboxDelivery === 'committed') {
      // Embedded: the event went into the log with the client's own write (committed-outbox.ts).
      expect(await adapters.store.outboxPending('client', clientId, eventId)).toBe(false);
      expect(await relay.drainOnce()).toBe(0);
    } else {
      // Not yet handed to the bus: nothing can have applied it.
      expect(await adapters.store.outboxPending('client', clientId, eventId)).toBe(true);
      expect(await fastOnly.awaitApplied(change(200))).toBe(false);
      expect(await relay.drainOnce()).toBe(1);
      expect(await adapters.store.outboxPending('client', clientId, eventId)).toBe(false);
    }
    const position = await adapters.bus.positionOf(TOPICS.client, clientId, eventId);
    expect(position).not.toBeNull();

    // The fast group applies it; the slow one is blocked in its handler with it.
    expect(await fastOnly.awaitApplied(change(30_000))).toBe(true);
    expect(fast.seen.map((e) => e.id)).toEqual([eventId]);
    expect((await slow.first).id).toBe(eventId);
    expect(await both.awaitApplied(change(300))).toBe(false);
    expect(await adapters.bus.committedPast('slow', TOPICS.client, position!)).toBe(false);
    expect(await adapters.bus.committedPast('never-subscribed', TOPICS.client, position!)).toBe(false);

    slow.release();
    expect(await both.awaitApplied(change(30_000))).toBe(true);
    expect(slow.seen.map((e) => e.id)).toEqual([eventId]);
    expect(await adapters.bus.committedPast('slow', TOPICS.client, position!)).toBe(true);

    // A group that never consumes holds the barrier back until the deadline.
    const withAbsent = new EventsBarrierAuthorizationServer({ store: adapters.store, bus: adapters.bus, groups: ['fast', 'absent'] });
    expect(await withAbsent.awaitApplied(change(300))).toBe(false);
    await Promise.all([both.close(), fastOnly.close(), withAbsent.close()]);
  });

  it.skipIf(skip)('close() ends a wait in progress with false', async () => {
    const barrier = new EventsBarrierAuthorizationServer({ store: adapters.store, bus: adapters.bus, groups: ['nobody'] });
    const client = aClient(`c${randomBytes(6).toString('hex')}`);
    const eventId = derivedEventId('dcr.client.created', client.requestId);
    await adapters.store.insertClient(client, [clientEvent('dcr.client.created', client, new Date(), undefined, eventId)]);
    const waiting = barrier.awaitApplied({ clientId: client.clientId, eventId, deadline: Date.now() + 60_000 });
    await barrier.close();
    expect(await waiting).toBe(false);
  });
});
