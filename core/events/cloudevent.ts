import { CloudEvent, Kafka } from 'cloudevents';
import type { TopicName } from '../domain/events.js';
import type { OutboxEntry } from '../domain/registration.js';
import type { DeliveredEvent } from '../ports/events.js';

/** The CloudEvents 1.0 view of an outbox event (same id on every retry of its publication). */
export function toDeliveredEvent(entry: OutboxEntry, source: string): DeliveredEvent {
  const traceparent = typeof entry.data.traceparent === 'string' ? entry.data.traceparent : undefined;
  const { traceparent: _omit, ...data } = entry.data;
  return {
    specversion: '1.0',
    id: entry.id,
    type: entry.type,
    source,
    subject: entry.key,
    time: entry.time,
    datacontenttype: 'application/json',
    data,
    ...(traceparent ? { traceparent } : {}),
    topic: entry.topic as TopicName,
  };
}

export interface KafkaRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** CloudEvents Kafka protocol binding, binary mode: attributes in `ce_*` headers, data as the value. */
export function toKafkaRecord(event: DeliveredEvent): KafkaRecord {
  const ce = new CloudEvent({
    specversion: '1.0',
    id: event.id,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: event.time,
    datacontenttype: 'application/json',
    data: event.data,
    partitionkey: event.subject,
    ...(event.traceparent ? { traceparent: event.traceparent } : {}),
  });
  const message = Kafka.binary(ce);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) headers[name] = String(value);
  const value = typeof message.body === 'string' ? Buffer.from(message.body) : Buffer.from(JSON.stringify(message.body));
  return { key: event.subject, value, headers };
}

/** Parses a Kafka record written in binary mode back into a {@link DeliveredEvent}. */
export function fromKafkaRecord(topic: TopicName, record: { key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }): DeliveredEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    if (value === undefined || value === null) continue;
    headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  const value = record.value?.toString('utf8') ?? '';
  const message = { headers, key: record.key?.toString('utf8') ?? '', value, body: value };
  const ce = Kafka.toEvent(message as Parameters<typeof Kafka.toEvent>[0]) as CloudEvent<unknown>;
  const data = typeof ce.data === 'string' ? (JSON.parse(ce.data) as Record<string, unknown>) : (ce.data as Record<string, unknown>);
  return {
    specversion: '1.0',
    id: ce.id,
    type: ce.type,
    source: ce.source,
    subject: ce.subject ?? '',
    time: ce.time ?? '',
    datacontenttype: 'application/json',
    data,
    ...(typeof ce.traceparent === 'string' ? { traceparent: ce.traceparent } : {}),
    topic,
  };
}
