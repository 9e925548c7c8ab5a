import type { SandboxDirectory } from '../directory-sandbox/index.js';

/** The sandbox directory state that changes what registrations do: an outage and the revocations. */
export interface SandboxState {
  outage: boolean;
  /** One entry per TPP with something revoked, naming what (organisation, software, signing key, transport certificate). */
  revoked: Array<{ tpp: string; what: string[] }>;
}

/** Reads the persisted sandbox state (it survives restarts: DATA_DIR/sandbox/state.json). */
export async function sandboxState(dir: SandboxDirectory): Promise<SandboxState> {
  const [outage, tpps, orgs, software, crl] = await Promise.all([
    dir.isOutage(),
    dir.listTpps(),
    dir.organisationStatuses(),
    dir.softwareStatuses(),
    dir.revokedCertificateSerials(),
  ]);
  const revokedOrgs = new Set(orgs.filter((o) => o.status !== 'Active').map((o) => o.orgId));
  const inactiveSoftware = new Set(software.filter((s) => s.status !== 'Active').map((s) => s.softwareId));
  const crlSerials = new Set(crl.map((s) => s.toLowerCase()));
  const revoked: SandboxState['revoked'] = [];
  for (const tpp of tpps) {
    const revokedKids = new Set(((await dir.softwareJwks(tpp.orgId, tpp.softwareId, 'revoked'))?.keys ?? []).map((k) => k.kid));
    const what = [
      ...(revokedOrgs.has(tpp.orgId) ? ['organisation'] : []),
      ...(inactiveSoftware.has(tpp.softwareId) ? ['software'] : []),
      ...(revokedKids.has(tpp.signingKid) ? ['signing key'] : []),
      ...(crlSerials.has(tpp.transportSerial.toLowerCase()) || revokedKids.has(tpp.transportKid) ? ['transport certificate'] : []),
    ];
    if (what.length) revoked.push({ tpp: tpp.name, what });
  }
  return { outage, revoked };
}

/** The banner lines for that state (none when all is normal). */
export function sandboxStateLines(state: SandboxState): string[] {
  const lines: string[] = [];
  if (state.outage) {
    lines.push(
      '  ! sandbox outage is ON (set earlier with `dcr-pipeline sandbox outage on`; it persists across restarts):',
      '    the sandbox directory answers 503, so new registrations retry and end failed, and AS calls that need the',
      '    directory fail too. Turn it off with: dcr-pipeline sandbox outage off',
    );
  }
  for (const r of state.revoked) lines.push(`  ! sandbox TPP ${r.tpp}: revoked ${r.what.join(', ')} (its registrations are rejected)`);
  return lines;
}
