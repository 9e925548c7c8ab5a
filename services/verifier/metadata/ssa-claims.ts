/**
 * SPEC §4 step 8 = §3.4 checks 3–6 on the (already signature-verified) SSA payload:
 *   3. `iss` is a configured issuer                    → unapproved_software_statement
 *   4. time rule of the profile                          → invalid_software_statement
 *   5. required claims present and well-typed            → invalid_software_statement
 *   6. org status / role status / competent authority    → unapproved_software_statement
 *      (the one owner of the SSA's status claims; the directory's live status is the revocation
 *      stage's `status-api` check)
 * and the facts later rules need (software id, org id, redirect URIs, JWKS URL, roles, scope).
 */
import { ConfigurationError, reject } from '../../../core/domain/errors.js';
import type { Profile, RolesShape } from '../../../core/profiles/index.js';
import { effectiveLeeway, futureTimestampProblem } from './time.js';
import type { RuleContext } from './types.js';
import {
  claim,
  httpsUrlProblem,
  isInteger,
  isPlainObject,
  isPresent,
  list,
  matchesPattern,
  show,
} from './util.js';

/** What the rest of the checks need from the SSA. */
export interface SsaFacts {
  readonly present: boolean;
  readonly softwareId?: string;
  readonly orgId?: string;
  /** The SSA's redirect URI master list (OBIE `software_redirect_uris`, CDR `redirect_uris`). */
  readonly redirectUris?: readonly string[];
  /** The software JWKS URL (OBIE `software_jwks_endpoint`, OFB `software_jwks_uri`, CDR `jwks_uri`). */
  readonly jwksUri?: string;
  /** Active roles of the software as listed by the SSA. */
  readonly roles: readonly string[];
  /**
   * Roles usable for scopes: `roles` restricted to those authorised by the competent authority
   * (OBIE `organisation_competent_authority_claims.authorisations[*].roles`) when the SSA lists any.
   */
  readonly authorisedRoles: readonly string[];
  /** Tokens of the SSA `scope` claim (CDR). */
  readonly scopes?: readonly string[];
}

const NO_SSA: SsaFacts = { present: false, roles: [], authorisedRoles: [] };

const ssaFail = reject.softwareStatement;

function ssaString(ssa: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = claim(ssa, name);
  if (!isPresent(value)) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw ssaFail(`SSA ${name}: must be a non-empty string`);
  return value;
}

function ssaStringArray(ssa: Readonly<Record<string, unknown>>, name: string): string[] | undefined {
  const value = claim(ssa, name);
  if (!isPresent(value)) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw ssaFail(`SSA ${name}: must be an array of strings`);
  }
  return value as string[];
}

function readRoles(ssa: Readonly<Record<string, unknown>>, shape: RolesShape): string[] | undefined {
  const value = claim(ssa, shape.claim);
  if (!isPresent(value)) return undefined;
  switch (shape.kind) {
    case 'string-array':
      return ssaStringArray(ssa, shape.claim);
    case 'space-string':
      if (Array.isArray(value)) return ssaStringArray(ssa, shape.claim);
      if (typeof value !== 'string') throw ssaFail(`SSA ${shape.claim}: must be a string`);
      return value.split(/\s+/).filter(Boolean);
    case 'object-array': {
      if (!Array.isArray(value)) throw ssaFail(`SSA ${shape.claim}: must be an array of objects`);
      const roles: string[] = [];
      value.forEach((entry, i) => {
        if (!isPlainObject(entry) || typeof entry[shape.roleField] !== 'string') {
          throw ssaFail(`SSA ${shape.claim}[${i}]: must be an object with a string '${shape.roleField}'`);
        }
        const status = entry[shape.statusField];
        if (typeof status === 'string' && status.toLowerCase() === shape.activeStatus.toLowerCase()) {
          roles.push(entry[shape.roleField] as string);
        }
      });
      return roles;
    }
  }
}

/** SPEC §3.4 step 3. */
function checkIssuer(ctx: RuleContext, ssa: Readonly<Record<string, unknown>>): void {
  const iss = claim(ssa, 'iss');
  if (typeof iss !== 'string' || iss.length === 0) throw ssaFail('SSA iss: missing or not a string');
  if (ctx.policy.ssaIssuers.length === 0 && ctx.profile.ssa.required) {
    throw new ConfigurationError('DCR_SSA_ISSUER', 'no trusted SSA issuer is configured');
  }
  if (!ctx.policy.ssaIssuers.includes(iss)) {
    throw reject.unapproved(`SSA iss ${show(iss)} is not a trusted software statement issuer`);
  }
}

/**
 * The SSA maximum age in force: the profile's own rule (Open Finance Brasil: 300 s) always holds; the
 * deployment's `DCR_SSA_MAX_AGE_SECONDS` may tighten it, or set one where the profile has none;
 * `off` (null) and absent leave the profile's rule.
 */
export function effectiveSsaMaxAge(profileMaxAge: number | null, configured: number | null | undefined): number | null {
  if (configured === undefined || configured === null) return profileMaxAge;
  return profileMaxAge === null ? configured : Math.min(profileMaxAge, configured);
}

/** SPEC §3.4 step 4. */
function checkTime(ctx: RuleContext, ssa: Readonly<Record<string, unknown>>): void {
  const { profile, policy, now } = ctx;
  const rule = profile.ssa.time;
  const leeway = effectiveLeeway(profile, policy);
  const iat = claim(ssa, 'iat');
  const exp = claim(ssa, 'exp');
  if (isPresent(iat) && !isInteger(iat)) throw ssaFail('SSA iat: must be an integer number of seconds');
  if (isPresent(exp) && !isInteger(exp)) throw ssaFail('SSA exp: must be an integer number of seconds');
  if (rule.requireIat && !isPresent(iat)) throw ssaFail('SSA iat: missing');
  if (rule.requireExp && !isPresent(exp)) throw ssaFail('SSA exp: missing');

  if (isInteger(exp) && now > exp + leeway) throw ssaFail(`SSA expired ${now - exp} s ago`);
  if (isInteger(iat) && isInteger(exp) && exp <= iat) throw ssaFail('SSA exp: must be later than iat');
  if (isInteger(iat)) {
    const future = futureTimestampProblem(profile, iat, now, leeway);
    if (future) throw ssaFail(`SSA iat ${future}`);
  }
  const maxAge = effectiveSsaMaxAge(rule.maxAgeSeconds, policy.ssaMaxAgeSeconds);
  if (maxAge !== null) {
    if (!isInteger(iat)) throw ssaFail('SSA iat: missing, the SSA age cannot be checked');
    if (now - iat > maxAge + leeway) {
      throw ssaFail(`SSA is too old: issued ${now - iat} s ago, the maximum age is ${maxAge} s`);
    }
  }
}

/** SPEC §3.4 step 5: required claims and the types of the claims used later. */
function readFacts(profile: Profile, ssa: Readonly<Record<string, unknown>>): Omit<SsaFacts, 'authorisedRoles'> {
  const missing = profile.ssa.requiredClaims.filter((name) => !isPresent(claim(ssa, name)));
  if (missing.length) throw ssaFail(`SSA is missing required claim${missing.length > 1 ? 's' : ''}: ${list(missing)}`);

  const names = profile.ssa.claims;
  const softwareId = ssaString(ssa, names.softwareId);
  const pattern = profile.identity.softwareIdPattern;
  if (softwareId !== undefined && pattern && !matchesPattern(pattern, softwareId)) {
    throw ssaFail(`SSA ${names.softwareId} ${show(softwareId)} is not ${pattern.description}`);
  }
  const orgId = ssaString(ssa, names.orgId);
  const redirectUris = ssaStringArray(ssa, names.redirectUris);
  const jwksUri = ssaString(ssa, names.jwksUri);
  if (jwksUri !== undefined) {
    const problem = httpsUrlProblem(jwksUri, { maxLength: 2048, noLoopback: false, noFragment: true });
    if (problem) throw ssaFail(`SSA ${names.jwksUri}: ${problem}`);
  }
  const roles = readRoles(ssa, names.roles) ?? [];
  let scopes: string[] | undefined;
  if (profile.scope.source.kind === 'ssa-claim') {
    const raw = ssaString(ssa, profile.scope.source.claim);
    scopes = raw?.split(/\s+/).filter(Boolean);
  }
  return {
    present: true,
    roles,
    ...(softwareId !== undefined && { softwareId }),
    ...(orgId !== undefined && { orgId }),
    ...(redirectUris !== undefined && { redirectUris }),
    ...(jwksUri !== undefined && { jwksUri }),
    ...(scopes !== undefined && { scopes }),
  };
}

/** The request's scope tokens, read leniently (format errors are reported at step 18). */
function requestedScopeTokens(ctx: RuleContext): string[] {
  const value = claim(ctx.claims, 'scope');
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function isActive(status: unknown): boolean {
  return typeof status === 'string' && status.trim().toLowerCase() === 'active';
}

/** SPEC §3.4 step 6. Returns the authorised roles. */
function checkStatus(ctx: RuleContext, ssa: Readonly<Record<string, unknown>>, roles: readonly string[]): string[] {
  const names = ctx.profile.ssa.claims;

  // The SSA's status claims are judged here and only here (the revocation stage asks the
  // directory's live status API, core/revocation/checks/status-api.ts): the organisation status
  // claim of the profile must say Active, and with role entries carrying a status at least one
  // role must be Active.
  if (names.orgStatus) {
    const status = claim(ssa, names.orgStatus);
    if (!isPresent(status)) throw reject.unapproved(`SSA ${names.orgStatus}: missing, the organisation is not known to be Active`);
    if (!isActive(status)) throw reject.unapproved(`SSA ${names.orgStatus} is ${show(status)}, not Active`);
  }
  if (names.roles.kind === 'object-array' && isPresent(claim(ssa, names.roles.claim)) && roles.length === 0) {
    throw reject.unapproved(`SSA ${names.roles.claim}: the software has no active role in the directory`);
  }

  if (!names.competentAuthority) return [...roles];
  const authority = claim(ssa, names.competentAuthority);
  if (!isPresent(authority)) return [...roles];
  if (!isPlainObject(authority)) throw ssaFail(`SSA ${names.competentAuthority}: must be an object`);
  if (isPresent(authority.status) && !isActive(authority.status)) {
    throw reject.unapproved(`SSA ${names.competentAuthority}.status is ${show(authority.status)}, not Active`);
  }
  const authorisations = authority.authorisations;
  if (!isPresent(authorisations)) return [...roles];
  if (!Array.isArray(authorisations)) throw ssaFail(`SSA ${names.competentAuthority}.authorisations: must be an array`);
  const authorised = new Set<string>();
  authorisations.forEach((entry, i) => {
    if (!isPlainObject(entry)) throw ssaFail(`SSA ${names.competentAuthority}.authorisations[${i}]: must be an object`);
    if (isPresent(entry.roles)) {
      if (!Array.isArray(entry.roles)) {
        throw ssaFail(`SSA ${names.competentAuthority}.authorisations[${i}].roles: must be an array`);
      }
      for (const role of entry.roles) if (typeof role === 'string') authorised.add(role.toUpperCase());
    }
  });
  const authorisedRoles = roles.filter((role) => authorised.has(role.toUpperCase()));

  // Roles needed by the requested scope must be authorised (scopes no SSA role grants at all are
  // left to the scope rule of step 18, which answers invalid_client_metadata).
  const source = ctx.profile.scope.source;
  if (source.kind === 'roles') {
    for (const token of requestedScopeTokens(ctx)) {
      const granting = roles.filter((role) => roleScopes(source.roleScopes, role).includes(token));
      if (granting.length > 0 && !granting.some((role) => authorised.has(role.toUpperCase()))) {
        throw reject.unapproved(
          `software role ${list(granting)} needed for scope '${token}' is not authorised by the competent authority`,
        );
      }
    }
  }
  return authorisedRoles;
}

/** Scopes one role grants (role names compared case-insensitively). */
export function roleScopes(table: Readonly<Record<string, readonly string[]>>, role: string): readonly string[] {
  // Own members only: a role named `constructor` or `__proto__` is an unknown role, not Object.prototype's.
  const own = (name: string) => (Object.hasOwn(table, name) ? table[name] : undefined);
  return own(role) ?? own(role.toUpperCase()) ?? [];
}

/** SPEC §4 step 8. */
export function checkSoftwareStatement(ctx: RuleContext): SsaFacts {
  const { ssa, profile } = ctx;
  if (ssa === null) {
    if (profile.ssa.required || isPresent(claim(ctx.claims, 'software_statement'))) {
      throw ssaFail('software_statement: missing or not verified');
    }
    return NO_SSA;
  }
  if (!isPlainObject(ssa)) throw ssaFail('SSA payload: must be a JSON object');
  checkIssuer(ctx, ssa);
  checkTime(ctx, ssa);
  const facts = readFacts(profile, ssa);
  const authorisedRoles = checkStatus(ctx, ssa, facts.roles);
  return { ...facts, authorisedRoles };
}
