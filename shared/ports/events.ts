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
   * The handler's promise is awaited before the offset is committed.
   */
  subscribe(
    options: { groupId: string; topics: readonly TopicName[]; fromBeginning?: boolean },
    handler: (event: DeliveredEvent) => Promise<void>,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

export interface EventBus extends EventPublisher, EventSubscriber {
  /** Creates the topics when the broker needs that (Kafka); a no-op elsewhere. */
  ensureTopics(): Promise<void>;
}
