import type { OutboxEntry } from '../domain/registration.js';
import type { TopicName } from '../domain/events.js';

/** A CloudEvent as consumers see it (CloudEvents 1.0 attributes + JSON data). */
export interface DeliveredEvent {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
  traceparent?: string;
  /** Base topic name (without namespace). */
  topic: TopicName;
}

export interface EventPublisher {
  /** Publishes in the given order; resolves when the broker acknowledged every event. */
  publish(events: OutboxEntry[]): Promise<void>;
  close(): Promise<void>;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface EventSubscriber {
  /**
   * Delivers each event at least once, in order per key, to the consumer group `groupId`.
   * The handler's promise is awaited before the offset is committed; the offset of each handled
   * event is committed right after it (not in batches), so {@link ConsumerProgress} sees it soon.
   */
  subscribe(
    options: { groupId: string; topics: readonly TopicName[]; fromBeginning?: boolean },
    handler: (event: DeliveredEvent) => Promise<void>,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

/**
 * A place in a topic's log that a consumer group's committed offset can be compared with: a group
 * whose committed offset on `partition` is ≥ `offset` has handled every event before it.
 * Kafka: a partition and an offset (the committed offset is the next one to read); the embedded
 * log: partition 0 and an event's `seq` (the committed offset is the last seq handled).
 */
export interface LogPosition {
  partition: number;
  /** An integer (Kafka offsets are int64), as a decimal string. */
  offset: string;
}

/**
 * How far consumer groups have got, for a read-your-writes barrier
 * (platform/adapters/authorization-server/events.ts). It asks nothing of the consumers beyond what
 * {@link EventSubscriber.subscribe} does anyway: commit a message's offset after its handler resolved.
 */
export interface ConsumerProgress {
  /**
   * A position that the event `eventId`, published on `topic` with `key`, lies before. Ask only
   * once the outbox relay has marked the event published (`Store.outboxPending` is false); null
   * when the log does not hold it. Kafka answers the high watermark of the key's partition (an
   * upper bound: the relay's send was acknowledged by every in-sync replica before the mark);
   * the embedded log the event's own `seq`.
   */
  positionOf(topic: TopicName, key: string, eventId: string): Promise<LogPosition | null>;
  /**
   * Whether consumer group `groupId` (named as for {@link EventSubscriber.subscribe}) has a
   * committed, durable offset at or past `position` on `topic`. A group that never committed: false.
   */
  committedPast(groupId: string, topic: TopicName, position: LogPosition): Promise<boolean>;
}

export interface EventBus extends EventPublisher, EventSubscriber, ConsumerProgress {
  /** Creates the topics when the broker needs that (Kafka); a no-op elsewhere. */
  ensureTopics(): Promise<void>;
}
