/**
 * RFC 7592 §2.2 / SPEC §6 "Update": extra rules for PUT /register/{ClientId}.
 * - `client_id` in the body must equal the path (required by RFC 7592; optional in OBIE/CDR);
 * - server-managed members must not be sent;
 * - the SSA `software_id` / `org_id` must not change (policy).
 */
import { reject } from '../../../core/domain/errors.js';
import type { SsaFacts } from './ssa-claims.js';
import type { RuleContext, UpdateTarget } from './types.js';
import { claim, isPresent, show } from './util.js';

const SERVER_MANAGED = ['registration_access_token', 'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at'];

export function checkUpdate(ctx: RuleContext, update: UpdateTarget, facts: SsaFacts): void {
  const clientId = claim(ctx.claims, 'client_id');
  if (!isPresent(clientId)) {
    if (ctx.profile.management.clientIdRequiredOnUpdate) throw reject.metadata('client_id: required in an update request');
  } else if (clientId !== update.clientId) {
    throw reject.metadata(`client_id: ${show(clientId)} does not match the client being updated`);
  }
  for (const name of SERVER_MANAGED) {
    if (isPresent(claim(ctx.claims, name))) throw reject.metadata(`${name}: must not be sent in an update request`);
  }
  const now: Record<string, string | undefined> = { software_id: facts.softwareId, org_id: facts.orgId };
  for (const name of ctx.profile.management.immutableOnUpdate) {
    const before = (update.existing as Record<string, unknown>)[name];
    if (before !== undefined && now[name] !== undefined && now[name] !== before) {
      throw reject.metadata(`${name}: cannot change on update (registered ${show(before)}, SSA has ${show(now[name])})`);
    }
  }
}
