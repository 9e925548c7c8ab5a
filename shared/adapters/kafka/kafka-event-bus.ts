import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { TOPICS, type TopicName } from '../../domain/events.js';
import type { OutboxEntry } from '../../domain/registration.js';
import type { DeliveredEvent, EventBus, Subscription } from '../../ports/events.js';
import { fromKafkaRecord, toDeliveredEvent, toKafkaRecord } from '../../events/cloudevent.js';

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

  constructor(options: KafkaEventBusOptions) {
    this.#options = options;
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200 },
      connectionTimeout: 3000,
    });
  }

  topicName(topic: TopicName): string {
    return this.#options.namespace ? `${this.#options.namespace}.${topic}` : topic;
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
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
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
    const groupId = this.#options.namespace ? `${this.#options.namespace}.${options.groupId}` : options.groupId;
    const consumer = this.#kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: true });
    await consumer.connect();
    const baseOf = new Map(options.topics.map((t) => [this.topicName(t), t]));
    await consumer.subscribe({ topics: [...baseOf.keys()], fromBeginning: options.fromBeginning ?? false });
    await consumer.run({
      autoCommit: true,
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

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.disconnect()));
    await this.#producer?.disconnect();
  }
}
