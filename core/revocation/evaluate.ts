/**
 * One evaluation of the revocation checks (SPEC §4 step 20, §9.2), shared by the revocation stage
 * (services/revocation/stage.ts) and the intake's check of authenticated calls
 * (platform/revocation/credential-check.ts).
 *
 * The enabled checks whose needs are met run concurrently; their verdicts are combined in the
 * order of core/revocation/checks/index.ts:
 * 1. positive evidence (refused) → {@link RegistrationRejection}, whatever the other checks say;
 * 2. anything that is neither a verdict nor a source problem (a bug, an infrastructure failure) is
 *    rethrown: retried by the stage runner;
 * 3. a source that could not answer → {@link RetryableFailure} (`fetch_refused` when every blocking
 *    problem is a policy refusal, else `directory_unreachable`), unless the check is listed in
 *    `softFail` (and, for a check with `softFailOnlyWith`, that other check gave a verified answer):
 *    then it is returned as a {@link SoftFailure} for the caller to log and record.
 */
import { RegistrationRejection, RetryableFailure } from '../domain/errors.js';
import { SourceUnavailable, type CheckContext, type CheckVerdict, type RevocationCheck } from './check.js';
import { REVOCATION_CHECK_LIST, type RevocationCheckName } from './checks/index.js';

/** Which checks run, and which may soft-fail (`config.revocation.checks` / `.softFail`). */
export interface EvaluationPolicy {
  readonly checks: readonly string[];
  readonly softFail: readonly string[];
}

/** What one check concluded when it accepted. */
export interface CheckNote {
  check: RevocationCheckName;
  note: string;
}

/** A check whose source could not answer, accepted by the soft-fail policy (to be recorded). */
export interface SoftFailure {
  check: RevocationCheckName;
  reason: string;
  message: string;
}

export interface Evaluation {
  softFailed: SoftFailure[];
  notes: CheckNote[];
}

type Settled = { check: RevocationCheck; verdict: CheckVerdict; cause?: unknown } | { check: RevocationCheck; failure: unknown };

/** The registered checks `policy` enables and whose needs `ctx` meets, in report order. */
export function checksToRun(policy: EvaluationPolicy, ctx: CheckContext, registry: readonly RevocationCheck[] = REVOCATION_CHECK_LIST): RevocationCheck[] {
  const enabled = new Set(policy.checks);
  return registry.filter(
    (c) =>
      enabled.has(c.name) &&
      c.needs.every((need) => (need === 'ssa' ? ctx.input.ssa !== null : need === 'organisation' ? ctx.input.organisation !== null : Boolean(ctx.policy.statusUrl))),
  );
}

async function settle(check: RevocationCheck, ctx: CheckContext): Promise<Settled> {
  try {
    return { check, verdict: await check.check(ctx) };
  } catch (error) {
    if (error instanceof RegistrationRejection) return { check, verdict: { outcome: 'refused', code: error.error, description: error.errorDescription }, cause: error };
    if (error instanceof SourceUnavailable) return { check, verdict: { outcome: 'retryable', reason: error.reason, message: error.message }, cause: error };
    return { check, failure: error };
  }
}

export async function evaluateRevocation(ctx: CheckContext, policy: EvaluationPolicy, registry: readonly RevocationCheck[] = REVOCATION_CHECK_LIST): Promise<Evaluation> {
  const settled = await Promise.all(checksToRun(policy, ctx, registry).map((check) => settle(check, ctx)));
  const verdicts = new Map<string, CheckVerdict>();
  for (const s of settled) if ('verdict' in s) verdicts.set(s.check.name, s.verdict);

  // 1. Positive evidence wins over everything else: final.
  for (const s of settled) {
    if ('verdict' in s && s.verdict.outcome === 'refused') {
      throw s.cause instanceof RegistrationRejection ? s.cause : new RegistrationRejection(s.verdict.code, s.verdict.description);
    }
  }
  // 2. Anything that is not a verdict is a bug or an infrastructure failure: retried.
  for (const s of settled) if ('failure' in s) throw s.failure;
  // 3. Sources that could not answer: retryable, unless soft-fail is allowed for that check.
  const softFailed: SoftFailure[] = [];
  const blocking: Array<{ check: string; reason: string; message: string; cause: unknown }> = [];
  const notes: CheckNote[] = [];
  for (const s of settled) {
    if (!('verdict' in s)) continue;
    const { check, verdict } = s;
    const name = check.name as RevocationCheckName;
    if (verdict.outcome === 'accepted') notes.push({ check: name, note: verdict.note });
    if (verdict.outcome !== 'retryable') continue;
    if (softFailAllowed(check, policy, verdicts)) softFailed.push({ check: name, reason: verdict.reason, message: verdict.message });
    else blocking.push({ check: name, reason: verdict.reason, message: verdict.message, cause: s.cause ?? new SourceUnavailable(verdict.reason, verdict.message) });
  }
  const [firstBlocking] = blocking;
  if (firstBlocking) {
    const reason = blocking.every((b) => b.reason === 'fetch_refused') ? 'fetch_refused' : 'directory_unreachable';
    throw new RetryableFailure(reason, blocking.map((b) => `${b.check}: ${b.message}`).join('; '), { cause: firstBlocking.cause });
  }
  return { softFailed, notes };
}

/**
 * A check whose source could not answer may be passed over only when the operator listed it in
 * `DCR_REVOCATION_SOFT_FAIL`, and, for a check naming `softFailOnlyWith` (CRL for OCSP, OCSP for
 * CRL), only when that other check gave a verified answer in this run: soft-fail never leaves the
 * transport certificate's status unknown.
 */
function softFailAllowed(check: RevocationCheck, policy: EvaluationPolicy, verdicts: ReadonlyMap<string, CheckVerdict>): boolean {
  if (!policy.softFail.includes(check.name)) return false;
  if (check.softFailOnlyWith === undefined) return true;
  const other = verdicts.get(check.softFailOnlyWith);
  return other?.outcome === 'accepted' && other.evidence;
}
