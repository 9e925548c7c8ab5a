/** Slow-client bounds of a listener (`DCR_HEADERS_TIMEOUT_MS`, `DCR_REQUEST_TIMEOUT_MS`). */
export interface ServerTimeouts {
  /** The request line and headers must arrive within this (Node `headersTimeout`). */
  headersMs: number;
  /** The whole request, body included, must arrive within this (Node `requestTimeout`). */
  requestMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { headersMs: 10_000, requestMs: 30_000 };

/**
 * Node's http/https server options enforcing {@link ServerTimeouts}. Node checks these deadlines
 * only every `connectionsCheckingInterval` (30 s by default), so a slow-loris client could hold a
 * connection for up to 30 s past its bound; checking every tenth of the headers bound (at most
 * every second) closes a slow client within ≈ 10 % of its bound.
 */
export function serverTimeoutOptions(timeouts: ServerTimeouts): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  const headersTimeout = Math.min(timeouts.headersMs, timeouts.requestMs);
  return {
    headersTimeout,
    requestTimeout: timeouts.requestMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 10))),
  };
}
