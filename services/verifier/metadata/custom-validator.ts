/**
 * SPEC §12: custom validators (WSO2 FS `DynamicClientRegistrationValidator` style), run in the
 * verifier after the built-in checks (§4 step 19), in priority order. A validator never sees an
 * unverified SSA. Its verdict is pass, a rejection with one of the four RFC 7591 codes, or
 * retryable; a thrown exception (or a malformed verdict) is a {@link RetryableFailure}, never a
 * 500 to the TPP.
 *
 * Validators are registered by configuration (`name`, `module`, `enabled`, `priority`, `options`,
 * `profiles`): a module default-exports a {@link CustomValidatorModule} whose `create(options)`
 * returns the {@link CustomValidator}.
 */
import {
  isRejectionCode,
  RegistrationRejection,
  RetryableFailure,
  type RejectionCode,
} from '../../../core/domain/errors.js';
import type { ProfileName } from '../../../core/profiles/index.js';
import type { RegisteredMetadata } from '../../../core/registration/registered-metadata.js';
import type { VerifiedFacts } from './types.js';

/** What a validator sees: the verified facts (profile, claims, SSA, certificate) and what the built-in checks made of them. */
export interface CustomValidatorContext extends VerifiedFacts {
  /** The metadata the built-in checks produced (defaults filled in). */
  readonly metadata: RegisteredMetadata;
  /** Epoch seconds, the same clock as the built-in checks. */
  readonly now: number;
}

export type CustomValidationResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: RejectionCode; readonly description: string }
  /** Not the TPP's fault (a bank service is down): the registration is retried, then `failed`. */
  | { readonly ok: false; readonly retryable: true; readonly reason: string; readonly description: string };

type MaybePromise<T> = T | Promise<T>;

export interface CustomValidator {
  /** Stable name, used in logs and as the default `reason` of retryable failures. */
  readonly name: string;
  /** POST /register. */
  validatePost(ctx: CustomValidatorContext): MaybePromise<CustomValidationResult>;
  /** PUT /register/{ClientId}; `existing` is the currently registered metadata. */
  validateUpdate(ctx: CustomValidatorContext, existing: RegisteredMetadata): MaybePromise<CustomValidationResult>;
}

/** A validator as configured. */
export interface RegisteredCustomValidator {
  readonly validator: CustomValidator;
  /** Lower runs first (WSO2: 1 = RequiredParamsValidator). Ties keep registration order. */
  readonly priority: number;
  /** Default true. */
  readonly enabled?: boolean;
  /** Profiles it applies to; absent = all. */
  readonly profiles?: readonly ProfileName[];
}

/** What a validator module exports (default export), for loading by configuration. */
export interface CustomValidatorModule<Options = unknown> {
  readonly name: string;
  /** Validates raw configuration options (throws on bad options) and builds the validator. */
  create(options: unknown): CustomValidator;
  /** Documented defaults. */
  readonly defaultOptions?: Options;
}

export type ValidationPhase = { readonly kind: 'post' } | { readonly kind: 'update'; readonly existing: RegisteredMetadata };

function retryable(name: string, message: string, cause?: unknown): RetryableFailure {
  return new RetryableFailure('custom_validator', `custom validator '${name}': ${message}`, cause === undefined ? undefined : { cause });
}

function toOutcome(name: string, result: unknown): void {
  if (typeof result !== 'object' || result === null || !('ok' in result)) {
    throw retryable(name, 'returned no verdict');
  }
  const verdict = result as Record<string, unknown>;
  if (verdict.ok === true) return;
  if (verdict.ok !== false) throw retryable(name, 'returned a malformed verdict');
  const description = typeof verdict.description === 'string' && verdict.description ? verdict.description : `rejected by ${name}`;
  if (verdict.retryable === true) {
    const reason = typeof verdict.reason === 'string' && verdict.reason ? verdict.reason : 'custom_validator';
    throw new RetryableFailure(reason, `custom validator '${name}': ${description}`);
  }
  if (!isRejectionCode(verdict.error)) throw retryable(name, `returned an unknown error code ${JSON.stringify(verdict.error)}`);
  throw new RegistrationRejection(verdict.error, description);
}

/** The enabled validators for a profile, in the order they run. */
export function orderValidators(
  validators: readonly RegisteredCustomValidator[],
  profile: ProfileName,
): RegisteredCustomValidator[] {
  return validators
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => entry.enabled !== false && (!entry.profiles || entry.profiles.includes(profile)))
    .sort((a, b) => a.entry.priority - b.entry.priority || a.index - b.index)
    .map(({ entry }) => entry);
}

/**
 * Runs the validators in priority order and stops at the first non-pass verdict: a rejection
 * becomes a {@link RegistrationRejection}, a retryable verdict, a thrown exception or a malformed
 * verdict a {@link RetryableFailure}. Resolves when every validator passed.
 */
export async function runCustomValidators(
  validators: readonly RegisteredCustomValidator[],
  ctx: CustomValidatorContext,
  phase: ValidationPhase = { kind: 'post' },
): Promise<void> {
  for (const { validator } of orderValidators(validators, ctx.profile.name)) {
    let result: unknown;
    try {
      result = phase.kind === 'post' ? await validator.validatePost(ctx) : await validator.validateUpdate(ctx, phase.existing);
    } catch (error) {
      throw retryable(validator.name, error instanceof Error ? error.message : 'threw a non-error value', error);
    }
    toOutcome(validator.name, result);
  }
}
