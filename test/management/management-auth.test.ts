import { describe, expect, it } from 'vitest';
import { bearerToken, unauthorized } from '../../services/intake/management-auth.js';

describe('bearerToken (RFC 6750 §2.1)', () => {
  it('reads a Bearer token, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc.DEF-_~+/=')).toEqual({ kind: 'token', token: 'abc.DEF-_~+/=' });
    expect(bearerToken('bearer   tok123  ')).toEqual({ kind: 'token', token: 'tok123' });
  });

  it('treats no header, an empty header and an empty Bearer token as no credentials (DCR-007)', () => {
    expect(bearerToken(undefined)).toEqual({ kind: 'none' });
    expect(bearerToken('')).toEqual({ kind: 'none' });
    expect(bearerToken('Bearer')).toEqual({ kind: 'none' });
    expect(bearerToken('Bearer    ')).toEqual({ kind: 'none' });
  });

  it('refuses other schemes, repeated headers, characters outside b64token and oversized tokens', () => {
    expect(bearerToken('Basic dXNlcjpwYXNz')).toEqual({ kind: 'malformed' });
    expect(bearerToken(['Bearer a', 'Bearer b'])).toEqual({ kind: 'malformed' });
    expect(bearerToken('Bearer a b')).toEqual({ kind: 'malformed' });
    expect(bearerToken('Bearer tok"en')).toEqual({ kind: 'malformed' });
    expect(bearerToken(`Bearer ${'a'.repeat(4097)}`)).toEqual({ kind: 'malformed' });
  });
});

describe('unauthorized', () => {
  it('answers 401 invalid_token with a Bearer challenge; error="invalid_token" only when a token was sent', () => {
    const without = unauthorized('x', false);
    expect(without.statusCode).toBe(401);
    expect(without.error).toBe('invalid_token');
    expect(without.headers['www-authenticate']).toBe('Bearer realm="dcr"');
    expect(unauthorized('x', true).headers['www-authenticate']).toBe('Bearer realm="dcr", error="invalid_token"');
  });
});
