import { TOPICS } from '../../../core/domain/events.js';
import type { AsClient, AuthorizationServerPort } from '../../../core/ports/authorization-server.js';
import type { ConsumerProgress, LogPosition } from '../../../core/ports/events.js';
import type { Store } from '../../../core/ports/store.js';

export interface EventsBarrierOptions {
  store: Pick<Store, 'outboxPending'>;
  bus: ConsumerProgress;
  /** The consumer groups on `dcr.client.v1` that must have applied a client event (`DCR_AS_EVENT_GROUPS`). */
  groups: readonly string[];
  /** First and longest pause between two looks (ms). */
  pollMs?: { min: number; max: number };
}

/**
 * `DCR_AS_PROVISIONING=events`: for an AS or gateway that learns clients from `dcr.client.v1`
 * (sandbox/sandbox-as, services/gateway-sync, a bank's own consumer). There is nothing to call:
 * the client event our store commits with the client is the provisioning. What this adapter adds
 * is a read-your-writes barrier: {@link awaitApplied} resolves true once every named consumer
 * group has committed its offset past the client's event, so `registered` (and the 201) means the
 * consumers have applied it.
 *
 * It asks of the consumers only what every at-least-once consumer does: commit an event's offset
 * after applying it. Two steps, each polled with a growing pause, bounded by the deadline:
 * 1. the store says the client's outbox entry is published (the relay marks it after the broker
 *    acknowledged it), and the bus tells where the event lies ({@link ConsumerProgress.positionOf});
 * 2. each group's committed offset is at or past that position ({@link ConsumerProgress.committedPast}).
 */
export class EventsBarrierAuthorizationServer implements AuthorizationServerPort {
  readonly name = 'events' as const;
  readonly #store: Pick<Store, 'outboxPending'>;
  readonly #bus: ConsumerProgress;
  readonly #groups: readonly string[];
  readonly #poll: { min: number; max: number };
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #closed = false;

  constructor(options: EventsBarrierOptions) {
    if (options.groups.length === 0) throw new Error('the events barrier needs at least one consumer group');
    this.#store = options.store;
    this.#bus = options.bus;
    this.#groups = [...new Set(options.groups)];
    this.#poll = options.pollMs ?? { min: 5, max: 100 };
  }

  async upsertClient(_client: AsClient): Promise<void> {
    // The `dcr.client.created` / `.updated` event committed with the client is the provisioning.
  }

  async deleteClient(_clientId: string): Promise<void> {
    // The `dcr.client.deleted` event committed with the deletion is the deprovisioning.
  }

  async awaitApplied(change: { clientId: string; eventId: string; deadline: number }): Promise<boolean> {
    const topic = TOPICS.client;
    let position: LogPosition | null = null;
    const waiting = new Set(this.#groups);
    let pause = this.#poll.min;
    for (;;) {
      if (this.#closed) return false;
      if (!position && !(await this.#store.outboxPending('client', change.clientId, change.eventId))) {
        position = await this.#bus.positionOf(topic, change.clientId, change.eventId);
      }
      if (position) {
        for (const group of [...waiting]) if (await this.#bus.committedPast(group, topic, position)) waiting.delete(group);
        if (waiting.size === 0) return true;
      }
      const left = change.deadline - Date.now();
      if (left <= 0) return false;
      await this.#sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, this.#poll.max);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#closed) return resolve();
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
      };
      this.#timers.add(entry);
    });
  }

  /** Ends the waits in progress (they answer false: not known to be applied). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#timers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.#timers.clear();
  }
}
