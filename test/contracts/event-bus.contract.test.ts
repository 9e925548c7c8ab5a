/**
 * The EventBus port (core/ports/events.ts) over the embedded SQLite event log and Kafka: what is
 * published reaches a subscribed group in order per key, as CloudEvents whose id is the outbox
 * entry's (stable: every delivery, every group, a republished entry); a group's offsets are
 * committed after its handler, so a restarted consumer resumes after the last event it handled, and
 * ConsumerProgress sees the commit.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Client } from '../../core/domain/client.js';
import { clientEvent, TOPICS } from '../../core/domain/events.js';
import type { OutboxEntry } from '../../core/domain/registration.js';
import type { DeliveredEvent, EventBus, Subscription } from '../../core/ports/events.js';
import { openEmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteEventBus } from '../../platform/adapters/embedded/sqlite-event-bus.js';
import { KafkaEventBus } from '../../platform/adapters/kafka/kafka-event-bus.js';
import { runContract, until, type Factory, type TempPlace } from './backends.js';

interface Opened {
  bus: EventBus;
  close(): Promise<void>;
}

const SOURCE = 'urn:dcr:contract-test';

function updated(clientId: string, n: number): OutboxEntry {
  const now = new Date().toISOString();
  const client: Client = {
    clientId,
    requestId: `req-${clientId}-${n}`,
    lastRequestId: `req-${clientId}-${n}`,
    orgId: 'org',
    softwareId: 'software',
    status: 'active',
    metadata: { client_id: clientId, client_name: `version ${n}` },
    tokenHash: 'hash',
    certificateThumbprint: 't',
    tppIdentity: 'org',
    clientIdIssuedAt: 1_790_000_000,
    createdAt: now,
    updatedAt: now,
    version: n,
  };
  return clientEvent(n === 0 ? 'dcr.client.created' : 'dcr.client.updated', client, new Date());
}

export function eventBusContract(open: Factory<Opened>, fresh: () => Promise<TempPlace>): void {
  let place: TempPlace;
  let opened: Opened | undefined;
  const subscriptions: Subscription[] = [];

  beforeEach(async () => {
    place = await fresh();
    opened = await open(place);
    await opened.bus.ensureTopics();
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.close()));
    await opened?.close();
    opened = undefined;
    await place.release();
  });
  const bus = () => (opened as Opened).bus;
  async function subscribe(groupId: string): Promise<{ seen: DeliveredEvent[]; subscription: Subscription }> {
    const seen: DeliveredEvent[] = [];
    const subscription = await bus().subscribe({ groupId, topics: [TOPICS.client], fromBeginning: true }, async (event) => {
      seen.push(event);
    });
    subscriptions.push(subscription);
    return { seen, subscription };
  }

  it('delivers in order per key, as CloudEvents carrying the outbox entry (its id included) to every group', async () => {
    const [a0, a1, a2] = [updated('ka', 0), updated('ka', 1), updated('ka', 2)];
    const [b0, b1] = [updated('kb', 0), updated('kb', 1)];
    await bus().publish([a0, b0, a1] as OutboxEntry[]);
    await bus().publish([b1, a2] as OutboxEntry[]);
    const one = await subscribe('group-one');
    await until('five events', () => one.seen.length, (n) => n >= 5);
    const ids = (key: string, seen: DeliveredEvent[]) => seen.filter((e) => e.subject === key).map((e) => e.id);
    expect(ids('ka', one.seen)).toEqual([a0?.id, a1?.id, a2?.id]);
    expect(ids('kb', one.seen)).toEqual([b0?.id, b1?.id]);
    const delivered = one.seen.find((e) => e.id === a1?.id);
    expect(delivered).toMatchObject({ specversion: '1.0', id: a1?.id, type: 'dcr.client.updated', source: SOURCE, subject: 'ka', time: a1?.time, datacontenttype: 'application/json', topic: TOPICS.client });
    expect(delivered?.data).toEqual(a1?.data);

    // Another group gets the same events under the same ids.
    const two = await subscribe('group-two');
    await until('five events in the second group', () => two.seen.length, (n) => n >= 5);
    expect(two.seen.map((e) => e.id).sort()).toEqual(one.seen.map((e) => e.id).sort());
  });

  it('commits offsets after the handler: a restarted consumer resumes after its last event; a republished entry keeps its id', async () => {
    const first = [updated('kc', 0), updated('kc', 1), updated('kc', 2)];
    await bus().publish(first);
    const group = await subscribe('resuming');
    await until('three events', () => group.seen.length, (n) => n >= 3);
    const last = first[2] as OutboxEntry;
    const position = await bus().positionOf(TOPICS.client, 'kc', last.id);
    expect(position).not.toBeNull();
    await until('the group committed past the third event', () => bus().committedPast('resuming', TOPICS.client, position!), (past) => past);
    expect(await bus().committedPast('never-subscribed', TOPICS.client, position!)).toBe(false);
    await group.subscription.close();

    // Published while the group is down; the third entry again, as a relay that died before marking it does.
    const later = [updated('kc', 3), updated('kc', 4)];
    await bus().publish([...later, last]);
    const restarted = await subscribe('resuming');
    await until('the events after the commit', () => restarted.seen.length, (n) => n >= 3);
    expect(restarted.seen.map((e) => e.id)).toEqual([later[0]?.id, later[1]?.id, last.id]);
    expect(restarted.seen[2]).toEqual(group.seen[2]);
  });
}

runContract<Opened>(
  'EventBus',
  {
    embedded: async (place) => {
      const db = openEmbeddedDatabase(place.dataDir);
      const bus = new SqliteEventBus(db, { source: SOURCE });
      return {
        bus,
        close: async () => {
          await bus.close();
          await db.close();
        },
      };
    },
    distributed: (infra) => async (place) => {
      const bus = new KafkaEventBus({ brokers: infra.kafkaBrokers.split(','), namespace: place.namespace, clientId: 'contract-test', source: SOURCE });
      return { bus, close: () => bus.close() };
    },
  },
  'Kafka',
  eventBusContract,
);
