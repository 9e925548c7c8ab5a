/** Errors of the sandbox directory API (operator/test input mistakes, not registration outcomes). */
import { DcrError } from '../../core/domain/errors.js';

/** Unknown TPP, organisation or software id. */
export class SandboxNotFoundError extends DcrError {
  readonly code = 'ERR_SANDBOX_NOT_FOUND';
}

/** A TPP with that name already exists. */
export class SandboxConflictError extends DcrError {
  readonly code = 'ERR_SANDBOX_CONFLICT';
}

/** Invalid argument (TPP name, roles, algorithm, URL). */
export class SandboxInputError extends DcrError {
  readonly code = 'ERR_SANDBOX_INVALID_INPUT';
}
