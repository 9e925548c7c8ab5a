/**
 * The verifier's pure metadata validation: SPEC §4 steps 7, 8 (SSA checks 3–6 of §3.4) and
 * 10–18, in that order, after the JOSE stage has verified both signatures. Stops at the first
 * failure with a {@link RegistrationRejection}; returns the normalised {@link RegisteredMetadata}.
 *
 * Synchronous, no I/O: the clock, audiences and trusted issuers come in `policy`.
 */
import { reject, type RegistrationRejection } from '../../../core/domain/errors.js';
import { checkAlgorithms, checkAuthorizationSigningRequirement, checkIdTokenEncryptionRequirement } from './algorithms.js';
import { checkClientAuthentication } from './auth-method.js';
import { checkCertificateBinding, checkTlsClientAuthIdentity } from './certificate-binding.js';
import { checkCiba } from './ciba.js';
import { checkApplicationType, checkGrantTypes, checkResponseTypes } from './grants-and-responses.js';
import { checkAudience, checkIssuer, checkSoftwareId } from './issuer-and-audience.js';
import { checkJti } from './jti.js';
import { checkJwks } from './jwks.js';
import { checkPassThrough } from './passthrough.js';
import { checkRedirectUris } from './redirect-uris.js';
import { type RegisteredMetadata, RegisteredMetadataValidator } from '../../../core/registration/registered-metadata.js';
import { checkRequestShape } from './required-claims.js';
import { checkScope } from './scope.js';
import { checkSoftwareStatement, type SsaFacts } from './ssa-claims.js';
import { checkRequestTime, effectiveLeeway } from './time.js';
import type { MetadataInput, RuleContext } from './types.js';
import { checkUpdate } from './update.js';
import { checkWebhookUris } from './webhooks.js';
import { claim } from './util.js';

export type { MetadataInput, MetadataPolicy, ClientCertificateInfo, UpdateTarget } from './types.js';
export type { RegisteredMetadata } from '../../../core/registration/registered-metadata.js';

export function createRuleContext(input: MetadataInput): RuleContext {
  const { profile, policy } = input;
  return {
    profile,
    claims: input.claims,
    ssa: input.ssa,
    certificate: input.certificate,
    policy,
    envelope: input.envelope ?? profile.body.defaultEnvelope,
    now: policy.now,
    leeway: effectiveLeeway(profile, policy),
  };
}

/**
 * `software_roles` as registered and returned: the authorised roles, except where the SSA carries
 * them as one string (CDR `software_roles` = `data-recipient-software-product`): that string, as the
 * Register issued it (SSA claims are returned as issued, CDR DCR).
 */
function registeredRoles(ctx: RuleContext, facts: SsaFacts): string[] | string {
  const shape = ctx.profile.ssa.claims.roles;
  if (shape.kind === 'space-string' && ctx.ssa) {
    const issued = claim(ctx.ssa, shape.claim);
    if (typeof issued === 'string') return issued;
  }
  return [...facts.authorisedRoles];
}

/** The result of the steps that read the SSA, for callers that need more than the metadata. */
export interface MetadataValidationResult {
  readonly metadata: RegisteredMetadata;
  readonly ssa: SsaFacts;
}

/** {@link validateRegistrationMetadata} that also returns the SSA facts it derived. */
export function validateRegistration(input: MetadataInput): MetadataValidationResult {
  const ctx = createRuleContext(input);

  // Step 7: payload shape and required claims.
  checkRequestShape(ctx);

  // Step 8: SSA issuer, time, required claims, status (SPEC §3.4 checks 3–6).
  const facts = checkSoftwareStatement(ctx);
  if (input.update) checkUpdate(ctx, input.update, facts);

  // Steps 10–13: request JWT claims (JWS envelope only).
  if (ctx.envelope === 'jws') {
    checkIssuer(ctx, facts); // 10
    checkAudience(ctx); // 11
    checkRequestTime(ctx); // 12
    checkJti(ctx); // 13 (format; replay is the JOSE stage's)
  }

  // Step 14: the transport certificate belongs to the SSA's organisation/software.
  checkCertificateBinding(ctx, facts);

  // Step 15: redirect URIs.
  const redirect_uris = checkRedirectUris(ctx, facts);

  // Step 16: client authentication and conditional claims (signing alg, tls_client_auth_*, CIBA).
  const auth = checkClientAuthentication(ctx);
  const ciba = checkCiba(ctx);

  // Step 17: the registered certificate identity matches the presented certificate.
  checkTlsClientAuthIdentity(ctx, auth);

  // Step 18: algorithms, grant/response/application types, scope, software_id, keys, other metadata.
  const algs = checkAlgorithms(ctx);
  const grant_types = checkGrantTypes(ctx);
  const response_types = checkResponseTypes(ctx, grant_types);
  checkIdTokenEncryptionRequirement(ctx, response_types, algs);
  checkAuthorizationSigningRequirement(ctx, response_types, algs);
  const application_type = checkApplicationType(ctx);
  const scope = checkScope(ctx, facts);
  const software_id = checkSoftwareId(ctx, facts);
  const keys = checkJwks(ctx, facts, auth.token_endpoint_auth_method);
  const extra = checkPassThrough(ctx);
  const webhooks = checkWebhookUris(ctx);

  const statement = claim(ctx.claims, 'software_statement');
  const candidate: Record<string, unknown> = {
    ...extra,
    ...webhooks,
    ...algs,
    ...ciba,
    ...keys,
    ...auth,
    redirect_uris,
    grant_types,
    response_types,
    application_type,
    scope,
    software_roles: registeredRoles(ctx, facts),
    ...(software_id !== undefined && { software_id }),
    ...(facts.orgId !== undefined && { org_id: facts.orgId }),
    ...(typeof statement === 'string' && { software_statement: statement }),
  };

  // Invariant and remaining length limits: the normalised metadata fits its schema.
  if (!RegisteredMetadataValidator.Check(candidate)) {
    const [first] = RegisteredMetadataValidator.Errors(candidate);
    const where = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : 'metadata';
    throw reject.metadata(`${where}: ${first?.message ?? 'is not valid'}`);
  }
  return { metadata: candidate, ssa: facts };
}

/**
 * SPEC §4 steps 7, 8, 10–18 on a verified request. Throws {@link RegistrationRejection} (stop at
 * the first failure); a `ConfigurationError` only for an unusable policy (no audience/issuer).
 */
export function validateRegistrationMetadata(input: MetadataInput): RegisteredMetadata {
  return validateRegistration(input).metadata;
}
