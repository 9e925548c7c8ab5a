import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/runtime/logger.js';

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

export type DeliveryOutcome = { delivered: true; attempts: number; status: number } | { delivered: false; attempts: number; reason: string };

/** POSTs a body, retrying 5xx, 408, 429, timeouts and network errors with exponential backoff. */
export class WebhookSender {
  constructor(
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
    /** Aborts in-flight requests and backoff sleeps on shutdown (the event is then redelivered). */
    private readonly stopping: AbortSignal = new AbortController().signal,
  ) {}

  async send(eventId: string, body: string): Promise<DeliveryOutcome> {
    const { url, secret, maxAttempts, retryBaseDelayMs, timeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let retryable = true;
      try {
        const response = await fetch(url, {
          method: 'POST',
          body,
          redirect: 'manual',
          headers: {
            'content-type': 'application/cloudevents+json; charset=utf-8',
            [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
            [EVENT_ID_HEADER]: eventId,
          },
          signal: AbortSignal.any([this.stopping, AbortSignal.timeout(timeoutMs)]),
        });
        await response.body?.cancel();
        if (response.ok) return { delivered: true, attempts: attempt, status: response.status };
        reason = `HTTP ${response.status}`;
        retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      } catch (error) {
        if (this.stopping.aborted) throw error;
        reason = error instanceof Error && error.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : `network error (${networkCode(error)})`;
      }
      if (!retryable || attempt >= maxAttempts) return { delivered: false, attempts: attempt, reason };
      const delayMs = retryBaseDelayMs * 2 ** (attempt - 1);
      this.logger.warn({ eventId, attempt, reason, delayMs }, 'webhook delivery failed; retrying');
      await sleep(delayMs, undefined, { signal: this.stopping });
    }
  }
}

function networkCode(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.name : 'unknown';
}
