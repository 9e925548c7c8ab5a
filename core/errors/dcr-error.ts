import { ERRORS, type ErrorCode, type ErrorSpec } from './registry.js';

/**
 * The one base class of every product error. `name` is always the concrete class's name and `code`
 * is one of the registry's codes ({@link ERRORS}); what the error means at HTTP and in a stage is
 * read from the registry ({@link DcrError.spec}), never from the class.
 */
export abstract class DcrError extends Error {
  /** A stable machine-readable code from core/errors/registry.ts, e.g. `ERR_REGISTRATION_REJECTED`. */
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  /** The registry's entry for {@link code}: HTTP status, OAuth `error`, stage outcome. */
  get spec(): ErrorSpec {
    return ERRORS[this.code];
  }
}

export function isDcrError(error: unknown): error is DcrError {
  return error instanceof DcrError;
}
