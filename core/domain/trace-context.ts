/**
 * W3C Trace Context (Recommendation, "traceparent Header"): version `00` is
 * `00-<trace-id: 32 lower-case hex, not all zero>-<parent-id: 16 lower-case hex, not all zero>-<trace-flags: 2 hex>`.
 * Anything else is dropped rather than copied into the request and the public events (whose v1
 * schemas accept only this shape), as the Recommendation's processing model says a receiver does
 * with a traceparent it cannot parse.
 */
const TRACEPARENT_V00 = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The request's `traceparent` header when it is a valid version-00 trace context; otherwise undefined. */
export function validTraceparent(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  return TRACEPARENT_V00.test(value) ? value : undefined;
}
