import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FetchRefused, OutboundFetcher } from '../../platform/http/outbound-fetcher.js';
import type { Logger } from '../../platform/runtime/logger.js';

/**
 * Signed webhooks. `X-DCR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * A receiver recomputes the HMAC over the raw body, compares in constant time, refuses a `t` too
 * far from its clock (replay), and dedupes on `X-DCR-Event-Id` (delivery is at least once).
 */
export const SIGNATURE_HEADER = 'x-dcr-signature';
export const EVENT_ID_HEADER = 'x-dcr-event-id';

export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver runs (copy it): true when `header` signs `body` with `secret` within the tolerance. */
export function verifyWebhookSignature(secret: string, header: string, body: string, options: { toleranceSeconds?: number; now?: number } = {}): boolean {
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(t) || Math.abs(now - t) > (options.toleranceSeconds ?? 300) || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split('v1=')[1] ?? '', 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

export interface WebhookOptions {
  url: string;
  secret: string;
  maxAttempts: number;
  retryBaseDelayMs: number;
  timeoutMs: number;
}

/** How the sender reaches the receiver: the allow-listed, size- and time-limited outbound fetcher. */
export type WebhookTransport = Pick<OutboundFetcher, 'request'>;

/**
 * The notifier's own {@link OutboundFetcher}: https only, TLS verified (system roots plus
 * `DCR_OUTBOUND_CA_FILE`, plus the sandbox CA in the sandbox), no redirects, a 64 KiB cap on the
 * receiver's answer, and `DCR_NOTIFIER_TIMEOUT_MS` for the whole exchange. The webhook's host is
 * operator-configured (`DCR_NOTIFIER_WEBHOOK_URL`), so it is the one host allowed — exactly, so a
 * receiver on a private address (the usual case) is reachable; nothing else is.
 */
export function webhookFetcher(options: Pick<WebhookOptions, 'url' | 'timeoutMs'>, caPems: readonly string[]): OutboundFetcher {
  return new OutboundFetcher({
    allowedHosts: [new URL(options.url).host],
    ca: caPems,
    connectTimeoutMs: Math.min(options.timeoutMs, 5000),
    totalTimeoutMs: options.timeoutMs,
    maxBytes: 64 * 1024,
  });
}

export type DeliveryOutcome = { delivered: true; attempts: number; status: number } | { delivered: false; attempts: number; reason: string };

/** POSTs a body, retrying 5xx, 408, 429, timeouts and network errors with exponential backoff. */
export class WebhookSender {
  constructor(
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
    /** Stops waiting for in-flight requests and backoff sleeps on shutdown (the event is then redelivered). */
    private readonly stopping: AbortSignal = new AbortController().signal,
    private readonly transport: WebhookTransport = webhookFetcher(options, []),
  ) {}

  async send(eventId: string, body: string): Promise<DeliveryOutcome> {
    const { url, secret, maxAttempts, retryBaseDelayMs, timeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let retryable = true;
      try {
        const response = await untilStopped(
          this.transport.request(url, {
            method: 'POST',
            body,
            headers: {
              'content-type': 'application/cloudevents+json; charset=utf-8',
              [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
              [EVENT_ID_HEADER]: eventId,
            },
          }),
          this.stopping,
        );
        // Redirects are not followed (a 3xx is not a delivery, and not retried).
        if (response.status >= 200 && response.status < 300) return { delivered: true, attempts: attempt, status: response.status };
        reason = `HTTP ${response.status}`;
        retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      } catch (error) {
        if (this.stopping.aborted) throw error;
        if (error instanceof FetchRefused) {
          // The URL itself is refused (not https, not the allowed host): no attempt will do better.
          retryable = false;
          reason = `refused: ${error.message}`;
        } else {
          reason = /timed out/.test(error instanceof Error ? error.message : '') ? `timeout after ${timeoutMs} ms` : `network error (${networkCode(error)})`;
        }
      }
      if (!retryable || attempt >= maxAttempts) return { delivered: false, attempts: attempt, reason };
      const delayMs = retryBaseDelayMs * 2 ** (attempt - 1);
      this.logger.warn({ eventId, attempt, reason, delayMs }, 'webhook delivery failed; retrying');
      await sleep(delayMs, undefined, { signal: this.stopping });
    }
  }
}

/** `work`, or a rejection as soon as `stopping` aborts (the request itself ends at its own time limit). */
function untilStopped<T>(work: Promise<T>, stopping: AbortSignal): Promise<T> {
  if (stopping.aborted) return Promise.reject(stopping.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopping.reason as Error);
    stopping.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => stopping.removeEventListener('abort', onAbort));
  });
}

function networkCode(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.name : 'unknown';
}
