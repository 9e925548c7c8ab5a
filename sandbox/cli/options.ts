import { InvalidArgumentError, type Command } from 'commander';
import { OBIE_ROLE_SCOPES, OFB_ROLE_SCOPES } from '../../core/profiles/common.js';

/** Roles a sandbox software statement may carry: the OBIE roles (and ASPSP) and Open Finance Brasil's. */
export const KNOWN_ROLES: readonly string[] = [...Object.keys(OBIE_ROLE_SCOPES), 'ASPSP', ...Object.keys(OFB_ROLE_SCOPES)];

/** `--roles AISP,PISP`: each a known role, at least one, no repeats. */
export function parseRoles(value: string): string[] {
  const roles = value.split(',').map((r) => r.trim());
  if (roles.length === 0 || roles.some((r) => r === '')) throw new InvalidArgumentError(`expected a comma-separated list of roles (${KNOWN_ROLES.join(', ')})`);
  const unknown = roles.filter((r) => !KNOWN_ROLES.includes(r));
  if (unknown.length) throw new InvalidArgumentError(`unknown role ${unknown.map((r) => `'${r}'`).join(', ')}; known roles: ${KNOWN_ROLES.join(', ')}`);
  if (new Set(roles).size !== roles.length) throw new InvalidArgumentError('a role is listed twice');
  return roles;
}

/** A duration option in milliseconds: a whole number from 1 to 86400000 (one day). */
export function parseMilliseconds(value: string): number {
  if (!/^\d{1,8}$/.test(value.trim()) || Number(value) < 1 || Number(value) > 86_400_000) {
    throw new InvalidArgumentError(`expected a whole number of milliseconds from 1 to 86400000, got '${value}'`);
  }
  return Number(value);
}

/** A count option: a whole number from 1 to `max`. */
export function parseCount(max: number): (value: string) => number {
  return (value) => {
    if (!/^\d{1,6}$/.test(value.trim()) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}, got '${value}'`);
    return Number(value);
  };
}

/** The options naming a TPP: a sandbox TPP by name, or its files. */
export function tppOptions(cmd: Command, what: 'signing' | 'transport' = 'signing'): Command {
  cmd.option('--tpp <name>', 'a sandbox TPP (dcr-pipeline sandbox tpp create NAME)');
  if (what === 'signing') cmd.option('--ssa <file>', 'software statement (compact JWS)');
  cmd.option('--cert <file>', 'transport certificate (PEM)').option('--key <file>', 'transport private key (PEM)');
  if (what === 'signing') cmd.option('--signing-key <file>', 'signing private key (JWK JSON)').option('--kid <kid>', 'kid of the signing key in the software JWKS');
  return cmd.option('--ca <file>', 'CA bundle trusted for the server certificate').option('--url <url>', 'base URL of the DCR endpoint (default DCR_PUBLIC_URL)');
}
