/**
 * `revoked-jwks`: the request's signing key (`kid`) and the transport certificate (`x5t#S256`,
 * `x5t`, `x5c[0]`) are absent from every revoked / inactive JWKS the SSA names (SPEC §9.1).
 * Positive evidence in a list that answered wins; otherwise a list that did not answer blocks.
 */
import { accepted, clip, mergeUnavailable, refused, SourceUnavailable, type RevocationCheck } from '../check.js';

/** SSA claims naming revoked / inactive key lists, per directory (SPEC §9.1). */
export const REVOKED_JWKS_CLAIMS = ['software_jwks_revoked_endpoint', 'org_jwks_revoked_endpoint', 'software_jwks_inactive_uri', 'software_jwks_transport_inactive_uri'] as const;

interface ListedKey {
  kid?: unknown;
  x5t?: unknown;
  'x5t#S256'?: unknown;
  x5c?: unknown;
}

export const revokedJwks: RevocationCheck<'revoked-jwks'> = {
  name: 'revoked-jwks',
  describes: "signing key and transport certificate absent from the SSA's revoked / inactive JWKS",
  needs: ['ssa'],
  async check({ input, directory, certificate }) {
    const { ssa, signingKid } = input;
    if (!ssa) return accepted('no SSA');
    const urls = REVOKED_JWKS_CLAIMS.map((claim) => [claim, ssa[claim]] as const).filter((e): e is [(typeof e)[0], string] => typeof e[1] === 'string' && e[1].length > 0);
    const cert = certificate.certificate();
    const answers = await Promise.allSettled(urls.map(async ([claim, url]) => ({ claim, keys: keysOf((await directory.json(url, claim)).value, claim) })));
    for (const answer of answers) {
      if (answer.status !== 'fulfilled') continue;
      const { claim, keys } = answer.value;
      if (signingKid && keys.some((k) => k.kid === signingKid)) {
        return refused(`the request signing key '${clip(signingKid, 64)}' is revoked in the directory (${claim})`);
      }
      const listed = keys.some((k) => k['x5t#S256'] === cert.x5tS256 || k.x5t === cert.x5t || (Array.isArray(k.x5c) && k.x5c[0] === cert.der64));
      if (listed) return refused(`the transport certificate is revoked in the directory (${claim})`);
    }
    // No positive evidence in the lists that answered; any list that did not answer blocks (or soft-fails).
    const problems = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
    const [firstProblem] = problems;
    if (firstProblem !== undefined) {
      if (problems.length === 1 || !problems.every((p) => p instanceof SourceUnavailable)) throw firstProblem;
      throw mergeUnavailable(problems as SourceUnavailable[], 'no revoked-key list answered');
    }
    return urls.length === 0 ? accepted('no revoked-key list in the SSA') : accepted(`not listed in ${urls.length} revoked-key list(s)`, true);
  },
};

function keysOf(json: unknown, claim: string): ListedKey[] {
  const keys = typeof json === 'object' && json !== null ? (json as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new SourceUnavailable('directory_unreachable', `${claim}: the answer is not a JWK Set`);
  return keys.filter((k): k is ListedKey => typeof k === 'object' && k !== null);
}
