import { DcrError } from '../../core/errors/dcr-error.js';
import { ERRORS, type ErrorCode, type OAuthErrorCode } from '../../core/errors/registry.js';

/**
 * An HTTP answer decided by a route or hook: a registry code (which gives the status and the OAuth
 * `error`), the `error_description` and extra headers (`WWW-Authenticate`, `Retry-After`). Every
 * error is JSON `{error, error_description}` (SPEC §5.2); platform/http/error-response.ts sends it.
 */
export class HttpError extends DcrError {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly error: OAuthErrorCode;
  constructor(
    code: ErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.error = ERRORS[code].error;
  }
}
