import { describe, expect, it } from 'vitest';
import { newRequestId, uuidV7 } from '../../core/domain/ids.js';

// Request ids are UUIDv7 (RFC 9562) so that the store's keys derived from them are appended in
// arrival order (core/domain/ids.ts).
describe('request ids', () => {
  it('are version 7 UUIDs with the RFC 9562 variant, carrying the time they were minted', () => {
    const at = Date.UTC(2026, 11, 2, 15, 30, 0, 123);
    const id = uuidV7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(at);
    expect(newRequestId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('sort by the millisecond they were minted in, and differ within one millisecond', () => {
    const earlier = Array.from({ length: 200 }, () => uuidV7(1_800_000_000_000));
    const later = Array.from({ length: 200 }, () => uuidV7(1_800_000_000_001));
    expect(new Set([...earlier, ...later]).size).toBe(400);
    expect(earlier.every((a) => later.every((b) => a < b))).toBe(true);
  });
});
