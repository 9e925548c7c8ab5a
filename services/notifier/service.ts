import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
/**
 * Reference notifier: turns registration outcomes into signed webhooks (see webhook.ts).
 * Notifies `dcr.client.created`, `dcr.registration.rejected` and `dcr.registration.failed`. The
 * webhook body is the CloudEvent in structured JSON form (`application/cloudevents+json`).
 * A delivery that still fails after DCR_NOTIFIER_MAX_ATTEMPTS is logged and skipped, so one dead
 * receiver cannot stall the stream; retries hold back later events of the same partition.
 */
import { ConfigurationError } from '../../core/domain/errors.js';
import { TOPICS } from '../../core/domain/events.js';
import { validateEvent } from '../../core/events/validate.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import type { Logger } from '../../platform/runtime/logger.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { WebhookSender, webhookFetcher, type DeliveryOutcome, type WebhookOptions, type WebhookTransport } from './webhook.js';

export const NOTIFIER_GROUP = 'notifier';
export const NOTIFIED_TYPES: readonly string[] = ['dcr.client.created', 'dcr.registration.rejected', 'dcr.registration.failed'];

export class Notifier {
  readonly #sender: WebhookSender;

  constructor(
    options: WebhookOptions,
    private readonly logger: Logger,
    stopping?: AbortSignal,
    /** Default: {@link webhookFetcher} trusting the system roots only. */
    transport?: WebhookTransport,
  ) {
    this.#sender = new WebhookSender(options, logger, stopping, transport);
  }

  /** Delivers one event's webhook; null when the event is not notified (or breaks the contract). */
  async handle(event: DeliveredEvent): Promise<DeliveryOutcome | null> {
    if (!NOTIFIED_TYPES.includes(event.type)) return null;
    const checked = validateEvent(event);
    if (!checked.valid) {
      this.logger.warn({ eventId: event.id, type: event.type, errors: checked.errors }, 'not notifying an event that breaks the v1 contract');
      return null;
    }
    const { topic: _transport, ...cloudEvent } = event;
    const outcome = await this.#sender.send(event.id, JSON.stringify(cloudEvent));
    const fields = { eventId: event.id, type: event.type, subject: event.subject, attempts: outcome.attempts };
    if (outcome.delivered) this.logger.info(fields, 'webhook delivered');
    else this.logger.error({ ...fields, reason: outcome.reason }, 'webhook delivery gave up');
    return outcome;
  }
}

export function notifierOptions(rt: Runtime): WebhookOptions {
  const { webhookUrl, webhookSecret, maxAttempts, retryBaseDelayMs, timeoutMs } = rt.config.notifier;
  if (!webhookUrl) throw new ConfigurationError('DCR_NOTIFIER_WEBHOOK_URL', 'required by the notifier');
  if (!webhookSecret) throw new ConfigurationError('DCR_NOTIFIER_WEBHOOK_SECRET', 'required by the notifier (at least 32 characters)');
  return { url: webhookUrl, secret: webhookSecret, maxAttempts, retryBaseDelayMs, timeoutMs };
}

/**
 * Subscribes as consumer group `notifier`. A new group starts at the end of the topics (no
 * notifications for history) unless `fromBeginning`.
 */
export async function startNotifier(rt: Runtime, options: { fromBeginning?: boolean } = {}): Promise<{ notifier: Notifier; stop(): Promise<void> }> {
  const webhook = notifierOptions(rt);
  const stopping = new AbortController();
  // Through the outbound fetcher (webhook.ts): the webhook's host allowed, the outbound CAs trusted.
  const notifier = new Notifier(webhook, rt.logger, stopping.signal, webhookFetcher(webhook, rt.trust.outboundCaPems));
  const subscription = await rt.adapters.bus.subscribe(
    { groupId: NOTIFIER_GROUP, topics: [TOPICS.registration, TOPICS.client], fromBeginning: options.fromBeginning ?? false },
    async (event) => {
      await notifier.handle(event);
    },
  );
  return {
    notifier,
    stop: async () => {
      stopping.abort();
      await subscription.close();
    },
  };
}

/** The service as a process: services/notifier/main.ts (production), sandbox/service/main.ts (sandbox). */
export const notifierService: ServiceDefinition = { name: 'notifier', start: (rt) => startNotifier(rt) };
