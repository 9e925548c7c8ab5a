/**
 * Typed errors with stable codes, in the style of panva/jose.
 *
 * Two families matter to the pipeline:
 * - {@link RegistrationRejection}: the TPP's fault. Final; answered as HTTP 400 with one of the four
 *   RFC 7591 §3.2.2 codes. The registration ends `rejected`.
 * - {@link RetryableFailure}: not the TPP's fault (directory down, broker down, a bug). Retried, then
 *   the registration ends `failed` and operators may replay it. Never answered as a 400.
 *
 * The base class and the registry of every code are in core/errors/ (re-exported here).
 */
import { DcrError } from '../errors/dcr-error.js';

export { DcrError } from '../errors/dcr-error.js';
export { DependencyUnavailable, type Dependency } from '../errors/dependency-unavailable.js';

/** The four RFC 7591 §3.2.2 error codes. */
export const RFC7591_REJECTION_CODES = [
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_software_statement',
  'unapproved_software_statement',
] as const;

/**
 * Every error code a registration can be rejected with: the RFC 7591 §3.2.2 codes, and the codes
 * profiles add (RFC 7591 §3.2.2 lets extensions define more): `invalid_webhook_uris` (Open Finance
 * Brasil DCR items 18–19: a `webhook_uris` value that is not in the SSA's `software_api_webhook_uris`).
 */
export const REJECTION_CODES = [...RFC7591_REJECTION_CODES, 'invalid_webhook_uris'] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export function isRejectionCode(value: unknown): value is RejectionCode {
  return typeof value === 'string' && (REJECTION_CODES as readonly string[]).includes(value);
}

/** Maximum length of an `error_description` (OBIE swagger). */
export const MAX_ERROR_DESCRIPTION = 500;

function cleanDescription(text: string): string {
  // ASCII only, single line, bounded: nothing internal leaks through formatting tricks.
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > MAX_ERROR_DESCRIPTION ? `${ascii.slice(0, MAX_ERROR_DESCRIPTION - 3)}...` : ascii;
}

/** The TPP's request is wrong: final, HTTP 400 `{error, error_description}`. */
export class RegistrationRejection extends DcrError {
  readonly code = 'ERR_REGISTRATION_REJECTED';
  readonly error: RejectionCode;
  readonly errorDescription: string;
  constructor(error: RejectionCode, errorDescription: string, options?: { cause?: unknown }) {
    const description = cleanDescription(errorDescription);
    super(`${error}: ${description}`, options);
    this.error = error;
    this.errorDescription = description;
  }
  toJSON(): { error: RejectionCode; error_description: string } {
    return { error: this.error, error_description: this.errorDescription };
  }
}

/** Something outside the TPP's control failed; the stage is retried, then the request is `failed`. */
export class RetryableFailure extends DcrError {
  readonly code = 'ERR_RETRYABLE_FAILURE';
  /** A short stable class for operators, e.g. `directory_unreachable`, `store_unavailable`. */
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** Configuration is invalid: start-up stops with one line naming the variable. */
export class ConfigurationError extends DcrError {
  readonly code = 'ERR_CONFIGURATION';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

export const reject = {
  metadata: (description: string) => new RegistrationRejection('invalid_client_metadata', description),
  redirectUri: (description: string) => new RegistrationRejection('invalid_redirect_uri', description),
  softwareStatement: (description: string) => new RegistrationRejection('invalid_software_statement', description),
  unapproved: (description: string) => new RegistrationRejection('unapproved_software_statement', description),
  webhookUris: (description: string) => new RegistrationRejection('invalid_webhook_uris', description),
} as const;
