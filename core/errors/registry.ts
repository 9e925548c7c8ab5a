/**
 * The one registry of every error the product raises (issue 18), in the style of panva/jose
 * `util/errors.ts` and fastify `lib/errors.js`: a stable `code`, the HTTP status and OAuth /
 * RFC 6749 / RFC 7591 / RFC 6750 `error` it is answered with when it reaches an HTTP handler
 * (platform/http/error-response.ts), and what a pipeline stage makes of it:
 * - `final`: the TPP's fault; the registration ends `rejected` (a {@link RegistrationRejection}
 *   directly, or after the stage turns the error into one).
 * - `retryable`: not the TPP's fault; the StageRunner retries, then the registration ends `failed`.
 * - `null`: raised only outside stages (HTTP handlers, start-up).
 *
 * Every product error class extends `DcrError` (core/errors/dcr-error.ts) and takes its `code`
 * from this table; the `ErrorCode` union is derived from it, so a code that is not here does not
 * compile. test/errors/registry.test.ts checks the table and that no error class bypasses it.
 */

/** The `error` values the product answers with (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2, profiles). */
export const OAUTH_ERROR_CODES = [
  // RFC 7591 §3.2.2 (and the Open Finance Brasil extension `invalid_webhook_uris`)
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_software_statement',
  'unapproved_software_statement',
  'invalid_webhook_uris',
  // RFC 6749 §5.2 / §4.1.2.1, RFC 6750 §3.1, RFC 8628 §3.5 (`slow_down`)
  'invalid_request',
  'invalid_client',
  'invalid_token',
  'access_denied',
  'slow_down',
  'temporarily_unavailable',
  'server_error',
  // non-OAuth answers of this product's own APIs
  'not_found',
  'unauthorized',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

export type StageOutcome = 'final' | 'retryable' | null;

export interface ErrorSpec {
  /** The HTTP status the error is answered with. */
  readonly status: number;
  /** The `error` member of the JSON body. */
  readonly error: OAuthErrorCode;
  /** What a stage makes of it (see the module comment). */
  readonly stage: StageOutcome;
  /** One line for operators and the README table. */
  readonly summary: string;
}

const spec = (status: number, error: OAuthErrorCode, stage: StageOutcome, summary: string): ErrorSpec => ({ status, error, stage, summary });

export const ERRORS = {
  // --- Registration outcomes (core/domain/errors.ts) -------------------------------------------
  ERR_REGISTRATION_REJECTED: spec(400, 'invalid_client_metadata', 'final', 'RegistrationRejection: the request is refused; the instance carries one of the RFC 7591 §3.2.2 codes (or invalid_webhook_uris)'),
  ERR_RETRYABLE_FAILURE: spec(500, 'server_error', 'retryable', 'RetryableFailure: something outside the TPP\'s control failed; retried, then failed'),
  ERR_CONFIGURATION: spec(500, 'server_error', null, 'ConfigurationError: invalid configuration; start-up stops naming the variable'),
  ERR_DEPENDENCY_UNAVAILABLE: spec(503, 'temporarily_unavailable', 'retryable', 'DependencyUnavailable: a backing service (store, queue, events, signal) cannot be reached or cannot take the write'),
  // --- Ports -----------------------------------------------------------------------------------
  ERR_SOFTWARE_ALREADY_REGISTERED: spec(400, 'invalid_client_metadata', 'final', 'SoftwareAlreadyRegistered: another active client holds the software (one registration per software)'),
  ERR_AS_CLIENT_REFUSED: spec(400, 'invalid_client_metadata', 'final', 'AsClientRefused: the authorization server refused the client\'s metadata'),
  ERR_AS_UNAVAILABLE: spec(503, 'temporarily_unavailable', 'retryable', 'AsUnavailable: the authorization server could not be reached or failed'),
  // --- Outbound fetches (platform/http/outbound-fetcher.ts) -------------------------------------
  ERR_FETCH_REFUSED: spec(400, 'invalid_software_statement', 'final', 'FetchRefused: a URL the outbound policy does not allow (scheme, host, private address)'),
  ERR_FETCH_FAILED: spec(503, 'temporarily_unavailable', 'retryable', 'FetchFailed: an allowed fetch failed (network, timeout, status, size, parse)'),
  // --- JOSE (platform/jose) ----------------------------------------------------------------------
  ERR_JWS_FORMAT: spec(400, 'invalid_client_metadata', 'final', 'JwsFormatError: a compact JWS refused before any key was looked at'),
  ERR_JSON_DUPLICATE_MEMBER: spec(400, 'invalid_client_metadata', 'final', 'DuplicateMemberError: a JOSE header or payload repeats a member name'),
  ERR_KEY_NOT_FOUND: spec(400, 'invalid_software_statement', 'final', 'KeyNotFound: no key of the signer\'s JWKS verifies the JWS'),
  // --- PKI (platform/pki) --------------------------------------------------------------------------
  ERR_CERTIFICATE_REFUSED: spec(401, 'invalid_client', 'final', 'CertificateRefused: the client certificate cannot stand for a TPP'),
  ERR_DN_SYNTAX: spec(401, 'invalid_client', 'final', 'DnSyntaxError: a distinguished name that does not parse (RFC 4514)'),
  // --- Embedded database (platform/adapters/embedded/group-commit.ts) -----------------------------
  ERR_EMBEDDED_BATCH_ROLLED_BACK: spec(503, 'temporarily_unavailable', 'retryable', 'BatchRolledBackError: the write batch was rolled back; nothing in it was stored'),
  ERR_EMBEDDED_NOT_DURABLE: spec(503, 'temporarily_unavailable', 'retryable', 'DurabilityError: fsync failed; the embedded database stops taking writes'),
  // --- Revocation (services/revocation) -----------------------------------------------------------
  ERR_EVIDENCE_UNUSABLE: spec(503, 'temporarily_unavailable', 'retryable', 'EvidenceUnusable: a CRL or OCSP response that cannot be used (unparsable, wrongly signed, stale)'),
  ERR_CERTIFICATE_INVALID: spec(400, 'unapproved_software_statement', 'final', 'CertificateInvalid: the certificate itself is unacceptable'),
  ERR_SOURCE_UNAVAILABLE: spec(503, 'temporarily_unavailable', 'retryable', 'SourceUnavailable: a directory, CRL or OCSP source gave no usable answer'),
  // --- HTTP answers of the intake and ops APIs (HttpError, platform/http/fastify-errors.ts) --------
  ERR_INVALID_REQUEST: spec(400, 'invalid_request', null, 'a malformed request (body, parameters, path, headers)'),
  ERR_INVALID_BODY: spec(400, 'invalid_client_metadata', null, 'POST/PUT /register: the body is not a JSON object or not a compact JWS'),
  ERR_PAYLOAD_TOO_LARGE: spec(413, 'invalid_request', null, 'the request body is too large'),
  ERR_URI_TOO_LONG: spec(414, 'invalid_request', null, 'a path segment is too long'),
  ERR_UNSUPPORTED_MEDIA_TYPE: spec(415, 'invalid_request', null, 'a Content-Type the route does not take'),
  ERR_REQUEST_TIMEOUT: spec(408, 'invalid_request', null, 'the request was not received in time'),
  ERR_HEADERS_TOO_LARGE: spec(431, 'invalid_request', null, 'the request headers are too large'),
  ERR_INVALID_CLIENT: spec(401, 'invalid_client', null, 'no client certificate issued by a trusted CA, or one the directory refuses'),
  ERR_INVALID_TOKEN: spec(401, 'invalid_token', null, 'a registration access token or admin token that is not valid (RFC 6750 §3.1)'),
  ERR_UNAUTHORIZED: spec(401, 'unauthorized', null, 'the ops API without an admin token'),
  ERR_ACCESS_DENIED: spec(403, 'access_denied', null, 'a client certificate of another organisation than the client\'s'),
  ERR_NOT_FOUND: spec(404, 'not_found', null, 'no such route, registration request or client'),
  ERR_RATE_LIMITED: spec(429, 'slow_down', null, 'too many requests of this TPP (rate limit or in-flight quota); Retry-After says when to retry'),
  ERR_OVERLOADED: spec(503, 'temporarily_unavailable', null, 'load shedding (event loop delay or heap); Retry-After says when to retry'),
  ERR_DIRECTORY_UNAVAILABLE: spec(503, 'temporarily_unavailable', null, 'the directory could not be asked about a client certificate; Retry-After'),
  ERR_INTERNAL: spec(500, 'server_error', null, 'any other error (a bug): logged with its cause, answered without its message'),
  // --- Sandbox directory (sandbox/directory-sandbox; never raised by the product) -----------------
  ERR_SANDBOX_NOT_FOUND: spec(404, 'not_found', null, 'sandbox directory: unknown TPP, organisation or software'),
  ERR_SANDBOX_CONFLICT: spec(409, 'invalid_request', null, 'sandbox directory: a TPP with that name exists'),
  ERR_SANDBOX_INVALID_INPUT: spec(400, 'invalid_request', null, 'sandbox directory: invalid argument'),
} as const satisfies Record<`ERR_${string}`, ErrorSpec>;

/** Every stable error code (a union derived from {@link ERRORS}). */
export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERRORS[code];
}
