import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BullMqQueue } from '../../platform/adapters/bullmq/bullmq-queue.js';
import { KafkaEventBus } from '../../platform/adapters/kafka/kafka-event-bus.js';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import { registrationEvent } from '../../core/domain/events.js';
import type { Registration } from '../../core/domain/registration.js';
import { OutboxRelay } from '../../core/outbox/relay.js';
import type { Store } from '../../core/ports/store.js';
import { aRegistration } from '../support/registration.js';

const infra = inject('infra');

function registration(id: string): Registration {
  return aRegistration(id, { body: 'x.y.z', certificate: { pem: '', thumbprint: 't', subjectDn: 'CN=x', issuerDn: 'CN=ca', serialNumber: '01', tppIdentity: 'org:x' } });
}

/** A store whose first `markPublished` dies, as a relay process killed between publish and mark. */
function killedAfterPublish(store: Store): Store {
  let killed = false;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'markPublished' && !killed) {
        return async () => {
          killed = true;
          throw new Error('relay process killed after publishing, before marking');
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!infra)('outbox relay killed mid-batch (MongoDB + Kafka)', () => {
  const namespace = `r${randomBytes(4).toString('hex')}`;
  let store: MongoStore;
  let bus: KafkaEventBus;
  let queue: BullMqQueue;

  beforeAll(async () => {
    if (!infra) return;
    store = await MongoStore.connect(`${infra.mongoUrl}/dcr_${namespace}`, namespace);
    bus = new KafkaEventBus({ brokers: infra.kafkaBrokers.split(','), namespace, clientId: 'relay-crash-test', source: 'urn:dcr:test' });
    await bus.ensureTopics();
    queue = new BullMqQueue({ redisUrl: infra.redisUrl, namespace, policy: { attempts: 1, baseDelayMs: 10 } });
  });
  afterAll(async () => {
    await queue?.close();
    await bus?.close();
    await store?.close();
  });

  it('loses nothing and redelivers only with the same event ids', async () => {
    const expected = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const reg = registration(randomUUID());
      const now = new Date();
      const events = [registrationEvent('dcr.registration.received', reg, now), registrationEvent('dcr.registration.verified', { ...reg, status: 'checking_revocation' }, now)];
      for (const e of events) expected.add(e.id);
      await store.insertRegistration(reg, events);
    }

    // First relay: publishes a batch to Kafka, then dies before recording it (lease lapses quickly).
    const first = new OutboxRelay(killedAfterPublish(store), bus, queue, { owner: 'relay-1', batchSize: 30, leaseMs: 200 });
    await expect(first.drainOnce()).rejects.toThrow(/killed/);

    // Its replacement takes over once the lease lapses and drains everything.
    const second = new OutboxRelay(store, bus, queue, { owner: 'relay-2', batchSize: 30, leaseMs: 5000 });
    await until('outbox drained by the restarted relay', async () => {
      await second.drainOnce();
      return (await store.pendingOutbox(1)).length === 0;
    });

    // Read the whole topic back.
    const kafka = new Kafka({ brokers: infra!.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `verify-${namespace}` });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: `${namespace}.dcr.registration.v1`, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.headers?.ce_id?.toString() ?? '') });
      await until('every event read back, the republished batch included', async () => seen.length >= expected.size + 30);
    } finally {
      await consumer.disconnect();
    }

    const unique = new Set(seen);
    expect(unique).toEqual(expected); // nothing lost, nothing invented
    expect(seen.length).toBeGreaterThanOrEqual(expected.size + 30); // the killed batch was published again...
    const counts = new Map<string, number>();
    for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].every((n) => n <= 2)).toBe(true); // ...each at most once more, with its own id
  });
});
