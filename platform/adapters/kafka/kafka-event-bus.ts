import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type ICustomPartitioner, type Producer } from 'kafkajs';
import { TOPICS, type TopicName } from '../../../core/domain/events.js';
import type { OutboxEntry } from '../../../core/domain/registration.js';
import type { DeliveredEvent, EventBus, LogPosition, Subscription } from '../../../core/ports/events.js';
import { fromKafkaRecord, toDeliveredEvent, toKafkaRecord } from '../../../core/events/cloudevent.js';
import { guardAdapter } from '../dependency.js';

export interface KafkaEventBusOptions {
  brokers: string[];
  namespace: string;
  clientId: string;
  source: string;
}

/**
 * The distributed {@link EventBus} on Kafka (kafkajs): CloudEvents in binary mode, keyed by client or
 * request id (order per key), an idempotent producer with `acks=all`.
 */
export class KafkaEventBus implements EventBus {
  readonly #kafka: Kafka;
  readonly #options: KafkaEventBusOptions;
  #producer: Producer | undefined;
  #producerReady: Promise<Producer> | undefined;
  readonly #consumers = new Set<Consumer>();
  #admin: Promise<Admin> | undefined;
  #adminClient: Admin | undefined;
  /** The producer's partitioner, also used to find a key's partition ({@link positionOf}). */
  readonly #createPartitioner: ICustomPartitioner = Partitioners.DefaultPartitioner;
  readonly #partition = this.#createPartitioner();

  constructor(options: KafkaEventBusOptions) {
    this.#options = options;
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200 },
      connectionTimeout: 3000,
    });
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'events');
  }

  topicName(topic: TopicName): string {
    return this.#options.namespace ? `${this.#options.namespace}.${topic}` : topic;
  }

  /** A consumer group's name at the broker: under the namespace, like the topics. */
  groupName(groupId: string): string {
    return this.#options.namespace ? `${this.#options.namespace}.${groupId}` : groupId;
  }

  /** Creates the topics if missing (3 partitions; replication as the cluster allows). */
  async ensureTopics(): Promise<void> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = Object.values(TOPICS)
        .map((t) => this.topicName(t))
        .filter((t) => !existing.has(t));
      if (missing.length) await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  async #getProducer(): Promise<Producer> {
    this.#producerReady ??= (async () => {
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true, createPartitioner: this.#createPartitioner });
      try {
        await producer.connect();
      } catch (error) {
        this.#producerReady = undefined;
        throw error;
      }
      this.#producer = producer;
      return producer;
    })();
    return this.#producerReady;
  }

  async publish(events: OutboxEntry[]): Promise<void> {
    if (events.length === 0) return;
    const producer = await this.#getProducer();
    const byTopic = new Map<string, ReturnType<typeof toKafkaRecord>[]>();
    for (const entry of events) {
      const record = toKafkaRecord(toDeliveredEvent(entry, this.#options.source));
      const topic = this.topicName(entry.topic as TopicName);
      const list = byTopic.get(topic) ?? [];
      list.push(record);
      byTopic.set(topic, list);
    }
    await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  async subscribe(
    options: { groupId: string; topics: readonly TopicName[]; fromBeginning?: boolean },
    handler: (event: DeliveredEvent) => Promise<void>,
  ): Promise<Subscription> {
    const groupId = this.groupName(options.groupId);
    const consumer = this.#kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: true });
    await consumer.connect();
    const baseOf = new Map(options.topics.map((t) => [this.topicName(t), t]));
    await consumer.subscribe({ topics: [...baseOf.keys()], fromBeginning: options.fromBeginning ?? false });
    await consumer.run({
      autoCommit: true,
      // Commit each message's offset once its handler resolved. kafkajs's default commits at the end
      // of a fetched batch, so a barrier (ConsumerProgress) would wait for the batch's last message.
      autoCommitThreshold: 1,
      eachMessage: async ({ topic, message }) => {
        const base = baseOf.get(topic);
        if (!base) return;
        // A throwing handler leaves the offset uncommitted: kafkajs retries the message (at least once).
        await handler(fromKafkaRecord(base, { key: message.key, value: message.value, headers: message.headers ?? {} }));
      },
    });
    this.#consumers.add(consumer);
    return {
      close: async () => {
        await consumer.disconnect();
        this.#consumers.delete(consumer);
      },
    };
  }

  /** One admin client for {@link positionOf} / {@link committedPast}, connected on first use. */
  async #getAdmin(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      try {
        await admin.connect();
      } catch (error) {
        this.#admin = undefined;
        throw error;
      }
      this.#adminClient = admin;
      return admin;
    })();
    return this.#admin;
  }

  /**
   * The high watermark of the key's partition (the partitioner the producer uses): the relay marks
   * an event published only after every in-sync replica acknowledged it (`acks=-1`), so the high
   * watermark already lies past it. An upper bound: a group at it has handled the event (and
   * whatever came before on the partition). Assumes the topic's partition count has not changed
   * since the event was sent (adding partitions remaps keys, and breaks per-key order anyway).
   */
  async positionOf(topic: TopicName, key: string, _eventId: string): Promise<LogPosition | null> {
    const admin = await this.#getAdmin();
    const name = this.topicName(topic);
    const metadata = await admin.fetchTopicMetadata({ topics: [name] });
    const partitions = metadata.topics.find((t) => t.name === name)?.partitions ?? [];
    if (partitions.length === 0) return null;
    const partition = this.#partition({ topic: name, partitionMetadata: partitions, message: { key, value: null } });
    const offsets = await admin.fetchTopicOffsets(name);
    const high = offsets.find((o) => o.partition === partition)?.high;
    return high === undefined ? null : { partition, offset: high };
  }

  /** The group's committed offset (the next one it will read) on the position's partition. */
  async committedPast(groupId: string, topic: TopicName, position: LogPosition): Promise<boolean> {
    const admin = await this.#getAdmin();
    const name = this.topicName(topic);
    const committed = await admin.fetchOffsets({ groupId: this.groupName(groupId), topics: [name] });
    const offset = committed.find((t) => t.topic === name)?.partitions.find((p) => p.partition === position.partition)?.offset;
    if (offset === undefined || !/^[0-9]+$/.test(offset)) return false; // '-1': nothing committed yet
    return BigInt(offset) >= BigInt(position.offset);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.disconnect()));
    await this.#producer?.disconnect();
    await this.#adminClient?.disconnect();
  }
}
