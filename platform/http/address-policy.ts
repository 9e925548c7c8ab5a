import { BlockList, isIP } from 'node:net';

/** Addresses no outbound fetch may reach unless its host is allow-listed exactly (SPEC §10.3). */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface HostRule {
  host: string;
  port: number | null;
  /** `*.example.com`: any subdomain; never reaches private addresses. */
  wildcard: boolean;
}

export function parseHostRule(entry: string): HostRule {
  const m = /^(\*\.)?(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/.exec(entry.trim());
  if (!m) throw new Error(`invalid allow-list entry '${entry}'`);
  return { wildcard: Boolean(m[1]), host: (m[2] ?? '').toLowerCase().replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : null };
}

/** Which rule (if any) admits `host:port`; `exact` tells whether private addresses are allowed. */
export function matchHost(rules: readonly HostRule[], host: string, port: number): { allowed: boolean; exact: boolean } {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const rule of rules) {
    if (rule.port !== null && rule.port !== port) continue;
    if (!rule.wildcard && rule.host === h) return { allowed: true, exact: true };
    if (rule.wildcard && h.endsWith(`.${rule.host}`)) return { allowed: true, exact: false };
  }
  return { allowed: false, exact: false };
}
