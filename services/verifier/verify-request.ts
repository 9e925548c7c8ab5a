import { createPublicKey, X509Certificate, type JsonWebKey } from 'node:crypto';
import { compactVerify, errors as joseErrors, type JWK } from 'jose';
import { reject, RegistrationRejection, RetryableFailure } from '../../core/domain/errors.js';
import type { PresentedCertificate, VerifiedRequest } from '../../core/domain/registration.js';
import { FetchFailed, FetchRefused } from '../../platform/http/outbound-fetcher.js';
import { JwsFormatError, parseCompactJws, type CompactJws } from '../../platform/jose/compact-jws.js';
import { KeyNotFound, type KeyResolver, type ResolvedKey } from '../../platform/jose/key-resolver.js';
import { parseStrictJson } from '../../platform/jose/strict-json.js';
import { certificateSubject, type RdnSequence } from '../../platform/pki/dn.js';
import type { BoundedMemo } from '../../platform/util/bounded-memo.js';
import { envelopeForContentType, type Profile } from '../../core/profiles/index.js';
import { validateRegistrationMetadata } from './metadata/validate.js';
import type { MetadataPolicy, UpdateTarget } from './metadata/types.js';
import { runCustomValidators, type CustomValidatorContext, type RegisteredCustomValidator, type ValidationPhase } from './metadata/custom-validator.js';
import { RegisteredMetadataSchema, RegisteredMetadataValidator, type RegisteredMetadata } from '../../core/registration/registered-metadata.js';

const MAX_SSA_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 64 * 1024;

export interface VerifyInput {
  body: string;
  contentType: string;
  certificate: PresentedCertificate;
  requestId: string;
  /**
   * When the intake recorded the request (epoch s). The time rules (iat, exp, nbf, lifetime, SSA age)
   * are judged at that instant, not when a worker gets to it: a request verified late — a backlog,
   * or an operator's replay after a directory outage — was on time when the TPP sent it, and its
   * `exp` passing while it waited is not the TPP's fault.
   */
  submittedAt?: number;
  /** RFC 7592 PUT: the client being updated (SPEC §6 "Update" rules). */
  update?: UpdateTarget;
}

export interface VerifyDeps {
  profile: Profile;
  /** Keys of the directory's SSA signatures (`DCR_DIRECTORY_JWKS_URL`). */
  directoryJwksUrl: string;
  keys: KeyResolver;
  policy: Omit<MetadataPolicy, 'now'>;
  /** Reserves `(software_id, jti)` for this request until `expiresAt`. */
  reserveJti: (key: string, requestId: string, expiresAt: number) => Promise<'reserved' | 'conflict'>;
  now: () => number;
  /**
   * The custom validators (SPEC §12, `DCR_VALIDATORS_FILE`), run after every built-in check. A
   * rejection of this promise (they could not be loaded) is a retryable failure.
   */
  customValidators?: () => Promise<readonly RegisteredCustomValidator[]>;
  /** The stored metadata of a client, for `validateUpdate` of the custom validators (PUT). */
  clientMetadata?: (clientId: string) => Promise<Readonly<Record<string, unknown>> | null>;
  /** Parsed transport certificate subjects by PEM (TPPs come back with the same certificate); read only. */
  subjects?: BoundedMemo<string, RdnSequence>;
  /**
   * SubjectPublicKeyInfo DER of public keys, by `pem:<certificate PEM>` or `jwk:<public JWK JSON>`
   * (the §7.3 binding compares them for every registration; the same certificate and the same
   * software JWKS come back). A pure function of its key; read only.
   */
  publicKeys?: BoundedMemo<string, Buffer | null>;
}

const METADATA_MEMBERS = Object.keys(RegisteredMetadataSchema.properties);

/**
 * The registered metadata of a stored client for `validateUpdate`: the stored body is the RFC 7591
 * response (SSA claims flattened, server-assigned members), so keep only the metadata members and
 * turn an OBIE 3.1 array `scope` back into its canonical string.
 */
function registeredMetadataOf(stored: Readonly<Record<string, unknown>>): RegisteredMetadata | null {
  const picked: Record<string, unknown> = {};
  for (const name of METADATA_MEMBERS) {
    if (stored[name] !== undefined) picked[name] = stored[name];
  }
  if (Array.isArray(picked.scope)) picked.scope = picked.scope.join(' ');
  return RegisteredMetadataValidator.Check(picked) ? picked : null;
}

/** SPEC §4 step 19: the configured custom validators, in priority order. */
async function runConfiguredValidators(deps: VerifyDeps, input: VerifyInput, ctx: CustomValidatorContext): Promise<void> {
  if (!deps.customValidators) return;
  let validators: readonly RegisteredCustomValidator[];
  try {
    validators = await deps.customValidators();
  } catch (error) {
    throw new RetryableFailure('custom_validators_unavailable', `custom validators could not be loaded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (validators.length === 0) return;
  let phase: ValidationPhase = { kind: 'post' };
  if (input.update) {
    const stored = deps.clientMetadata ? await deps.clientMetadata(input.update.clientId) : null;
    const existing = stored ? registeredMetadataOf(stored) : null;
    if (!existing) throw new RetryableFailure('pipeline_state', `custom validators: the registered metadata of client ${input.update.clientId} is not available`);
    phase = { kind: 'update', existing };
  }
  await runCustomValidators(validators, ctx, phase);
}

function asRejection(error: unknown, code: 'invalid_client_metadata' | 'invalid_software_statement', subject: string): never {
  if (error instanceof RegistrationRejection) throw error;
  if (error instanceof JwsFormatError) throw new RegistrationRejection(code, error.message);
  if (error instanceof FetchRefused) throw reject.softwareStatement(`${subject}: ${error.message}`);
  if (error instanceof FetchFailed) throw new RetryableFailure('directory_unreachable', `${subject}: ${error.message}`, { cause: error });
  if (error instanceof KeyNotFound) throw new RegistrationRejection(code, `${subject}: ${error.message}`);
  throw error;
}

/**
 * The signature segment must be canonical base64url (SPEC §10.1): decoders ignore the unused low
 * bits of the last character, so without this check one signature has several encodings, each
 * a different body (signature malleability; a fresh idempotency key for the same signed request).
 */
function assertCanonicalSignature(jws: CompactJws, code: 'invalid_client_metadata' | 'invalid_software_statement', what: string): void {
  const signature = jws.compact.slice(jws.compact.lastIndexOf('.') + 1);
  if (Buffer.from(signature, 'base64url').toString('base64url') !== signature) {
    throw new RegistrationRejection(code, `${what}: the signature is not canonical base64url`);
  }
}

async function verifySignature(jws: CompactJws, key: ResolvedKey, code: 'invalid_client_metadata' | 'invalid_software_statement', what: string) {
  assertCanonicalSignature(jws, code, what);
  const alg = jws.header.alg as string;
  if (alg !== key.alg) throw new RegistrationRejection(code, `${what}: alg '${alg}' does not match the key '${jws.header.kid as string}' (${key.alg})`);
  try {
    await compactVerify(jws.compact, key.key, { algorithms: [key.alg] });
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JOSEError) {
      throw new RegistrationRejection(code, `${what}: signature verification failed`);
    }
    throw error;
  }
}

/**
 * The verifier's checks in SPEC §4 order: request JWS shape (5) and claims (7), SSA signature
 * against the directory keys only (8), request signature against the software JWKS named by the
 * verified SSA (9), then the metadata rules (10–18), the `jti` replay reservation (13) and the
 * custom validators (19).
 * Keys never come from the token itself. Throws {@link RegistrationRejection} or
 * {@link RetryableFailure}.
 */
/**
 * Open Finance Brasil (2023 revision §7.1 item 5; profile `jwks.requireEncryptionKey`): the JWKS at
 * the registered `jwks_uri` holds a key for encryption (`"use": "enc"`), which the bank encrypts ID
 * tokens and messages to. Fetched through the allow-listed fetcher and key cache.
 */
export async function checkEncryptionKey(deps: Pick<VerifyDeps, 'profile' | 'keys'>, metadata: RegisteredMetadata): Promise<void> {
  if (!deps.profile.jwks.requireEncryptionKey) return;
  const url = metadata.jwks_uri;
  if (!url) throw reject.metadata('jwks_uri: required, its JWKS must hold an encryption key ("use": "enc")');
  let keys: Awaited<ReturnType<KeyResolver['keySet']>>;
  try {
    keys = await deps.keys.keySet(url);
  } catch (error) {
    asRejection(error, 'invalid_client_metadata', `jwks_uri ${url.slice(0, 200)}`);
  }
  if (!keys.some((key) => key.use === 'enc')) {
    throw reject.metadata(`jwks_uri: the JWKS at ${url.slice(0, 200)} holds no encryption key ("use": "enc")`);
  }
}

/** The SPKI (DER) of a JWK's public part; null for a key that is not an asymmetric public key. */
function spkiOfJwk(jwk: JWK, memo: BoundedMemo<string, Buffer | null> | undefined): Buffer | null {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, oth: _oth, ...publicJwk } = jwk as JWK & { oth?: unknown };
  if (publicJwk.kty !== 'RSA' && publicJwk.kty !== 'EC' && publicJwk.kty !== 'OKP') return null;
  const compute = (): Buffer | null => {
    try {
      return createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'der' });
    } catch {
      return null;
    }
  };
  // Keyed by the public members only: a private member never becomes part of a memo key.
  return memo ? memo.through(`jwk:${JSON.stringify(publicJwk)}`, compute) : compute();
}

function spkiOfCertificate(pem: string, memo: BoundedMemo<string, Buffer | null> | undefined): Buffer {
  const compute = (): Buffer => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return memo?.through(`pem:${pem}`, compute) ?? compute();
}

/**
 * SPEC §7.3 alternative binding: the presented transport certificate's public key is one of the keys
 * of the software's active JWKS (OBIE `software_jwks_endpoint` holds the signing and network keys;
 * OFB `software_jwks_uri`). Consulted only for profiles with a binding check and an SSA naming that
 * JWKS; for a signed request it was just fetched for the signature (cached). An unreachable JWKS is a
 * retryable failure; one the fetcher refuses counts as "not in it" (the certificate subject alone
 * then decides, and the JWKS's own check reports the refusal).
 */
async function certificateKeyInSoftwareJwks(deps: Pick<VerifyDeps, 'profile' | 'keys' | 'publicKeys'>, softwareJwksUri: string, pem: string): Promise<boolean> {
  if (deps.profile.certificateBinding.length === 0 || !softwareJwksUri) return false;
  let keys: JWK[];
  try {
    keys = await deps.keys.keySet(softwareJwksUri);
  } catch (error) {
    if (error instanceof FetchRefused) return false;
    if (error instanceof FetchFailed) throw new RetryableFailure('directory_unreachable', `software JWKS: ${error.message}`, { cause: error });
    throw error;
  }
  const presented = spkiOfCertificate(pem, deps.publicKeys);
  return keys.some((jwk) => spkiOfJwk(jwk, deps.publicKeys)?.equals(presented) === true);
}

export async function verifyRegistrationRequest(input: VerifyInput, deps: VerifyDeps): Promise<VerifiedRequest> {
  const { profile } = deps;
  const envelope = envelopeForContentType(profile, input.contentType);
  if (!envelope) throw reject.metadata(`Content-Type '${input.contentType}' is not accepted in profile ${profile.name}`);

  let request: CompactJws | null = null;
  let claims: Record<string, unknown>;
  if (envelope === 'jws') {
    try {
      request = parseCompactJws(input.body, { what: 'request', allowedAlgorithms: profile.algorithms.request, maxBytes: MAX_BODY_BYTES, typ: ['JWT'] });
    } catch (error) {
      asRejection(error, 'invalid_client_metadata', 'request');
    }
    claims = request.payload;
  } else {
    let parsed: unknown;
    try {
      parsed = parseStrictJson(input.body);
    } catch (error) {
      throw reject.metadata(`the body is not a valid JSON object: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw reject.metadata('the body must be a JSON object');
    claims = parsed as Record<string, unknown>;
  }

  // SSA (SPEC §3.4 steps 1–2): only the configured directory keys.
  const statement = claims.software_statement;
  let ssa: Record<string, unknown> | null = null;
  if (statement === undefined) {
    if (profile.ssa.required) throw reject.softwareStatement('software_statement is required');
  } else {
    if (typeof statement !== 'string') throw reject.softwareStatement('software_statement must be a compact JWS string');
    let ssaJws: CompactJws;
    try {
      ssaJws = parseCompactJws(statement, { what: 'software_statement', allowedAlgorithms: profile.algorithms.ssa, maxBytes: MAX_SSA_BYTES, typ: ['JWT'] });
    } catch (error) {
      asRejection(error, 'invalid_software_statement', 'software_statement');
    }
    try {
      const key = await deps.keys.resolve(deps.directoryJwksUrl, ssaJws.header.kid as string);
      await verifySignature(ssaJws, key, 'invalid_software_statement', 'software_statement');
    } catch (error) {
      if (error instanceof FetchRefused || error instanceof FetchFailed) {
        throw new RetryableFailure('directory_unreachable', `directory JWKS: ${error.message}`, { cause: error });
      }
      asRejection(error, 'invalid_software_statement', 'software_statement');
    }
    ssa = ssaJws.payload;
  }

  // Request signature (step 9): the key must come from the JWKS the verified SSA names.
  const jwksClaim = profile.ssa.claims.jwksUri;
  const softwareJwksUri = ssa && typeof ssa[jwksClaim] === 'string' ? (ssa[jwksClaim] as string) : '';
  if (request) {
    if (!softwareJwksUri) throw reject.softwareStatement(`software_statement: '${jwksClaim}' is required to verify the request signature`);
    try {
      const key = await deps.keys.resolve(softwareJwksUri, request.header.kid as string);
      await verifySignature(request, key, 'invalid_client_metadata', 'request');
    } catch (error) {
      asRejection(error, 'invalid_client_metadata', `request (keys from ${jwksClaim})`);
    }
  }

  // Metadata rules (steps 10–18), pure.
  // Judged at submission (see VerifyInput.submittedAt); never later than the verifier's clock.
  const now = input.submittedAt !== undefined && Number.isFinite(input.submittedAt) ? Math.min(input.submittedAt, deps.now()) : deps.now();
  const pem = input.certificate.pem;
  const subject = deps.subjects ? deps.subjects.through(pem, () => certificateSubject(pem)) : certificateSubject(pem);
  const inSoftwareJwks = ssa ? await certificateKeyInSoftwareJwks(deps, softwareJwksUri, pem) : false;
  const certificate = { subject, pem, inSoftwareJwks };
  const metadata = validateRegistrationMetadata({
    profile,
    claims,
    ssa,
    certificate,
    policy: { ...deps.policy, now },
    envelope,
    ...(input.update ? { update: input.update } : {}),
  });

  await checkEncryptionKey(deps, metadata);

  const softwareId = String(metadata.software_id ?? '');
  const orgId = String(metadata.org_id ?? '');

  // Replay (step 13, SPEC §10.4): a jti is good for one request of this software until it expires.
  if (typeof claims.jti === 'string') {
    const exp = typeof claims.exp === 'number' ? claims.exp : now + 3600;
    const leeway = deps.policy.leewaySeconds ?? profile.time.leewaySeconds;
    const outcome = await deps.reserveJti(`${softwareId}:${claims.jti}`, input.requestId, exp + leeway);
    if (outcome === 'conflict') throw reject.metadata(`jti: '${claims.jti.slice(0, 64)}' has already been used (replayed request)`);
  }

  // Custom validators (step 19): only ever see verified input.
  await runConfiguredValidators(deps, input, { profile, claims, ssa, certificate, metadata, now });

  // The request's claims are not kept: `metadata` is what the client is registered with.
  return {
    ssa: ssa ?? {},
    metadata: metadata as unknown as Record<string, unknown>,
    signingKid: request ? (request.header.kid as string) : '',
    softwareJwksUri,
    orgId,
    softwareId,
  };
}
