/**
 * `status-api`: the organisation (`legal_entity_id`, else the SSA org id) and the software are
 * ACTIVE in a CDR Register-shaped status API (SPEC §9.1): `{base}/data-recipients/status` and
 * `{base}/data-recipients/brands/software-products/status`. This is the directory's live word; the
 * SSA's own status claims are facts of the signed statement, judged once by the verifier
 * (services/verifier/metadata/ssa-claims.ts `checkStatus`).
 */
import { accepted, clip, refused, SourceUnavailable, type DirectoryDocuments, type RevocationCheck } from '../check.js';

const ACTIVE = 'active';

export const statusApi: RevocationCheck<'status-api'> = {
  name: 'status-api',
  describes: 'organisation and software ACTIVE in the directory status API',
  needs: ['organisation', 'status-url'],
  async check({ input, policy, directory }) {
    const { statusUrl } = policy;
    const { organisation } = input;
    if (!statusUrl || !organisation) return accepted('no status API');
    const [org, software] = await Promise.all([
      listedStatus(directory, `${statusUrl}/data-recipients/status`, 'directory organisation status', 'legalEntityId', organisation.orgKey),
      listedStatus(directory, `${statusUrl}/data-recipients/brands/software-products/status`, 'directory software status', 'softwareProductId', organisation.softwareId),
    ]);
    if (org.status === undefined) return refused(`the organisation '${clip(organisation.orgKey, 64)}' is not listed by the directory`);
    if (org.status.toLowerCase() !== ACTIVE) return refused(`the organisation is not active in the directory (status ${clip(org.status, 20)})`);
    if (software.status === undefined) return refused(`the software '${clip(organisation.softwareId, 64)}' is not listed by the directory`);
    if (software.status.toLowerCase() !== ACTIVE) return refused(`the software is not active in the directory (status ${clip(software.status, 20)})`);
    return accepted(`organisation and software ACTIVE${org.cached && software.cached ? ' (cached)' : ''}`, true);
  },
};

/**
 * The status of `id` in a Register status list. An id missing from a cached list is asked again
 * fresh (it may be newer than the cache): only a fresh list's silence counts as evidence.
 */
async function listedStatus(directory: DirectoryDocuments, url: string, what: string, idField: string, id: string): Promise<{ status: string | undefined; cached: boolean }> {
  const list = await directory.json(url, what);
  const status = statusOf(list.value, idField, id, url);
  if (status !== undefined || !list.cached) return { status, cached: list.cached };
  const fresh = await directory.json(url, what, { fresh: true });
  return { status: statusOf(fresh.value, idField, id, url), cached: false };
}

/** `{data: [{<idField>, status}]}` → the status of `id`, undefined when not listed. */
function statusOf(json: unknown, idField: string, id: string, url: string): string | undefined {
  const data = typeof json === 'object' && json !== null ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new SourceUnavailable('directory_unreachable', `${url}: the answer has no data list`);
  for (const item of data) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    if (record[idField] === id) {
      if (typeof record.status !== 'string') throw new SourceUnavailable('directory_unreachable', `${url}: an entry has no status`);
      return record.status;
    }
  }
  return undefined;
}
