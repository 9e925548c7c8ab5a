/**
 * Open Finance Brasil webhook registration (DCR 1.0 ID3 items 18–19; "Registro do Webhook"):
 * `webhook_uris` is a list of base URIs, each of which must be one the directory holds for the
 * software (SSA `software_api_webhook_uris`); otherwise `400 invalid_webhook_uris`. Registered and
 * returned; absent = no webhooks. Profiles without `webhooks` ignore the claim (not their metadata).
 */
import { reject } from '../../../core/domain/errors.js';
import type { RuleContext } from './types.js';
import { claim, isPresent, show } from './util.js';

const MAX_WEBHOOK_URIS = 50;
const MAX_URI_LENGTH = 2048;

export function checkWebhookUris(ctx: RuleContext): { webhook_uris?: string[] } {
  const rule = ctx.profile.webhooks;
  if (rule === null) return {};
  const value = claim(ctx.claims, 'webhook_uris');
  if (!isPresent(value)) return {};
  if (!Array.isArray(value)) throw reject.webhookUris('webhook_uris: must be an array of https URIs');
  if (value.length > MAX_WEBHOOK_URIS) throw reject.webhookUris(`webhook_uris: at most ${MAX_WEBHOOK_URIS} URIs`);
  const allowedClaim = ctx.ssa ? claim(ctx.ssa, rule.ssaClaim) : undefined;
  const allowed = Array.isArray(allowedClaim) ? allowedClaim.filter((u): u is string => typeof u === 'string') : [];
  const result: string[] = [];
  value.forEach((uri, i) => {
    if (typeof uri !== 'string' || uri.length === 0 || uri.length > MAX_URI_LENGTH) {
      throw reject.webhookUris(`webhook_uris[${i}]: must be a non-empty string of at most ${MAX_URI_LENGTH} characters`);
    }
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw reject.webhookUris(`webhook_uris[${i}]: ${show(uri)} is not a URI`);
    }
    if (parsed.protocol !== 'https:') throw reject.webhookUris(`webhook_uris[${i}]: ${show(uri)} must use https`);
    if (!allowed.includes(uri)) {
      throw reject.webhookUris(`webhook_uris[${i}]: ${show(uri)} is not in the software statement's ${rule.ssaClaim}`);
    }
    if (!result.includes(uri)) result.push(uri);
  });
  return { webhook_uris: result };
}
