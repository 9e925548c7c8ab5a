import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import type { TopicName } from '../../../core/domain/events.js';
import type { OutboxEntry } from '../../../core/domain/registration.js';
import type { DeliveredEvent, EventBus, LogPosition, Subscription } from '../../../core/ports/events.js';
import { toDeliveredEvent } from '../../../core/events/cloudevent.js';
import type { CommittedEvents } from './committed-outbox.js';
import type { EmbeddedDatabase } from './database.js';
import type { GroupCommit } from './group-commit.js';
import { guardAdapter } from '../dependency.js';

interface EventRow {
  seq: number;
  doc: string;
}

/**
 * The embedded {@link EventBus}: an append-only event log in the SQLite file with durable
 * consumer-group offsets, so embedded consumers get Kafka's semantics (at least once, in order,
 * resumable after a restart) without a broker. Appends and offsets join the open group-commit batch
 * without waiting (`lazy`): the relay publishes only durable outbox entries and marks them after
 * the append, so a crash before the commit means the same events (same ids) are appended again.
 */
export class SqliteEventBus implements EventBus, CommittedEvents {
  readonly #db: Database.Database;
  readonly #commits: GroupCommit;
  readonly #source: string;
  readonly #wake = new EventEmitter();
  readonly #subscriptions = new Set<Subscription>();
  readonly #stmt;

  constructor(embedded: EmbeddedDatabase, options: { source: string }) {
    const db = embedded.sqlite;
    this.#db = db;
    this.#commits = embedded.commits;
    this.#source = options.source;
    this.#wake.setMaxListeners(0);
    this.#stmt = {
      append: db.prepare('INSERT INTO events (id, topic, key, doc) VALUES (?, ?, ?, ?)'),
      after: db.prepare<[string, number, number], EventRow>('SELECT seq, doc FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?'),
      last: db.prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM events WHERE topic = ?'),
      offset: db.prepare<[string, string], { seq: number }>('SELECT seq FROM consumer_offsets WHERE group_id = ? AND topic = ?'),
      commit: db.prepare('INSERT OR REPLACE INTO consumer_offsets (group_id, topic, seq) VALUES (?, ?, ?)'),
      // The first append of an event (a relay that crashed before its mark appends it again, same id).
      position: db.prepare<[string, string], { seq: number | null }>('SELECT MIN(seq) AS seq FROM events WHERE id = ? AND topic = ?'),
    };
    // The adapter boundary: a driver outage from any method arrives as DependencyUnavailable.
    return guardAdapter(this, 'events');
  }

  async ensureTopics(): Promise<void> {
    // The event log has no per-topic set-up.
  }

  async publish(events: OutboxEntry[]): Promise<void> {
    const write = () => {
      for (const e of events) {
        const delivered = toDeliveredEvent(e, this.#source);
        this.#stmt.append.run(e.id, e.topic, e.key, JSON.stringify(delivered));
      }
    };
    // One statement is atomic by itself: a savepoint (inside the open batch) only for several.
    this.#commits.lazy(events.length === 1 ? write : this.#db.transaction(write));
    for (const topic of new Set(events.map((e) => e.topic))) this.#wake.emit(topic);
  }

  /**
   * {@link CommittedEvents}: the events appended inside the caller's transaction (a state change of
   * the embedded store, sqlite-store.ts), so they are in the log exactly when the change is, with no
   * outbox entry and no relay pass. Consumers read the log only once what they read is durable.
   */
  appendCommitted(events: readonly OutboxEntry[]): void {
    for (const e of events) this.#stmt.append.run(e.id, e.topic, e.key, JSON.stringify(toDeliveredEvent(e, this.#source)));
    for (const topic of new Set(events.map((e) => e.topic))) this.#wake.emit(topic);
  }

  /** The event's `seq`; read through the group commit, so only a durable append counts. */
  async positionOf(topic: TopicName, _key: string, eventId: string): Promise<LogPosition | null> {
    const row = await this.#commits.observed(() => this.#stmt.position.get(eventId, topic));
    return row?.seq == null ? null : { partition: 0, offset: String(row.seq) };
  }

  /**
   * The group's offset is the seq of the last event it handled. Offsets are written lazily (with
   * the open group-commit batch): the read waits until what it saw is durable, so an offset a crash
   * could still roll back never passes a barrier.
   */
  async committedPast(groupId: string, topic: TopicName, position: LogPosition): Promise<boolean> {
    const row = await this.#commits.observed(() => this.#stmt.offset.get(groupId, topic));
    return row !== undefined && BigInt(row.seq) >= BigInt(position.offset);
  }

  async subscribe(
    options: { groupId: string; topics: readonly TopicName[]; fromBeginning?: boolean },
    handler: (event: DeliveredEvent) => Promise<void>,
  ): Promise<Subscription> {
    let closed = false;
    let wakeUp: (() => void) | undefined;
    // An append while the loop reads (the read waits for durability) must not be slept through.
    let woken = false;
    const onWake = () => {
      woken = true;
      wakeUp?.();
    };
    for (const topic of options.topics) {
      this.#wake.on(topic, onWake);
      if (!this.#stmt.offset.get(options.groupId, topic)) {
        const start = options.fromBeginning ? 0 : (this.#stmt.last.get(topic)?.seq ?? 0);
        this.#commits.lazy(() => this.#stmt.commit.run(options.groupId, topic, start));
      }
    }
    const loop = async () => {
      while (!closed) {
        let delivered = 0;
        woken = false;
        for (const topic of options.topics) {
          let rows: EventRow[];
          try {
            const offset = this.#stmt.offset.get(options.groupId, topic)?.seq ?? 0;
            // Observed: an event appended with a state change (appendCommitted) may sit in the open
            // batch; a consumer acts on it only once the change it reports is durable.
            rows = await this.#commits.observed(() => this.#stmt.after.all(topic, offset, 100));
          } catch {
            // The database refused the read (closing, or it stopped taking writes): later.
            if (!closed) await new Promise((r) => setTimeout(r, 500));
            break;
          }
          for (const row of rows) {
            if (closed) return;
            try {
              await handler(JSON.parse(row.doc) as DeliveredEvent);
            } catch {
              // At least once: the offset stays; the event is offered again after a pause.
              await new Promise((r) => setTimeout(r, 500));
              break;
            }
            this.#commits.lazy(() => this.#stmt.commit.run(options.groupId, topic, row.seq));
            delivered += 1;
          }
        }
        if (delivered === 0 && !closed && !woken) {
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
            setTimeout(resolve, 1000);
          });
          wakeUp = undefined;
        }
      }
    };
    const done = loop();
    const subscription: Subscription = {
      close: async () => {
        closed = true;
        for (const topic of options.topics) this.#wake.off(topic, onWake);
        wakeUp?.();
        await done;
        this.#subscriptions.delete(subscription);
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }
}
