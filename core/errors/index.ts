/** The product's errors: the registry of codes, the base class, and the typed outage. */
export { ERRORS, ERROR_CODES, OAUTH_ERROR_CODES, errorSpec, isErrorCode, type ErrorCode, type ErrorSpec, type OAuthErrorCode, type StageOutcome } from './registry.js';
export { DcrError, isDcrError } from './dcr-error.js';
export { DEPENDENCIES, DependencyUnavailable, findDependencyUnavailable, type Dependency } from './dependency-unavailable.js';
