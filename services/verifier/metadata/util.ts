/**
 * Small helpers shared by the rule modules: value display in error descriptions, typed claim
 * readers, patterns and URL checks.
 */
import { isIP } from 'node:net';
import { reject, type RegistrationRejection } from '../../../core/domain/errors.js';
import type { PatternSpec } from '../../../core/profiles/index.js';

/** A value as shown in an `error_description`: quoted, truncated, never a whole JWT. */
export function show(value: unknown, max = 64): string {
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 4)}...${text.startsWith("'") ? "'" : ''}` : text;
}

export function list(values: readonly string[]): string {
  return values.length ? values.join(', ') : '(none)';
}

/** A claim counts as present unless it is absent or JSON `null`. */
export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function claim(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(claims, name) ? claims[name] : undefined;
}

type Fail = (description: string) => RegistrationRejection;

/** Reads an optional string claim; a non-string (or empty string) value is a rejection. */
export function optionalString(
  claims: Readonly<Record<string, unknown>>,
  name: string,
  fail: Fail = reject.metadata,
): string | undefined {
  const value = claim(claims, name);
  if (!isPresent(value)) return undefined;
  if (typeof value !== 'string') throw fail(`${name}: must be a string`);
  if (value.length === 0) throw fail(`${name}: must not be empty`);
  return value;
}

/** Reads an optional array-of-strings claim. */
export function optionalStringArray(
  claims: Readonly<Record<string, unknown>>,
  name: string,
  fail: Fail = reject.metadata,
): string[] | undefined {
  const value = claim(claims, name);
  if (!isPresent(value)) return undefined;
  if (!Array.isArray(value)) throw fail(`${name}: must be an array of strings`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0) throw fail(`${name}[${i}]: must be a non-empty string`);
  });
  return value as string[];
}

const patternCache = new Map<string, RegExp>();

export function compilePattern(spec: PatternSpec): RegExp {
  const key = `${spec.flags ?? ''}/${spec.source}`;
  let re = patternCache.get(key);
  if (!re) {
    re = new RegExp(spec.source, spec.flags);
    patternCache.set(key, re);
  }
  return re;
}

export function matchesPattern(spec: PatternSpec, value: string): boolean {
  return compilePattern(spec).test(value);
}

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** Loopback, unspecified and `localhost` hosts (SPEC §2.3: refuse localhost, 127.0.0.1, *.localhost, ::1 and any loopback literal). */
export function isLoopbackOrLocalHost(hostname: string): boolean {
  let host = hostname.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) return host.startsWith('127.') || host === '0.0.0.0';
  if (family === 6) {
    if (host === '::1' || host === '::') return true;
    // IPv4-mapped loopback / unspecified, as normalised by the WHATWG URL parser (::ffff:7f00:1).
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const high = parseInt(mapped[1]!, 16);
      return high >> 8 === 127 || (high === 0 && parseInt(mapped[2]!, 16) === 0);
    }
  }
  return false;
}

export interface HttpsUrlRules {
  readonly maxLength: number;
  /** Refuse loopback and `localhost` hosts. */
  readonly noLoopback: boolean;
  readonly noFragment: boolean;
}

/**
 * Why a string is not an acceptable absolute `https` URL, or null when it is. Reasons are phrased to
 * follow `name: ` in an error description.
 */
export function httpsUrlProblem(value: string, rules: HttpsUrlRules): string | null {
  if (value.length > rules.maxLength) return `longer than ${rules.maxLength} characters`;
  if (value !== value.trim() || /\s/.test(value)) return 'contains whitespace';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${show(value)} is not an absolute URL`;
  }
  if (url.protocol !== 'https:') return `scheme '${url.protocol.replace(/:$/, '')}' is not allowed (https only)`;
  if (url.hostname === '') return 'has no host';
  if (rules.noFragment && value.includes('#')) return 'must not contain a fragment';
  if (url.username !== '' || url.password !== '') return 'must not contain user information';
  if (rules.noLoopback && isLoopbackOrLocalHost(url.hostname)) return `host '${url.hostname}' is not allowed`;
  return null;
}
