/**
 * UK Open Banking DCR v3.1 (SPEC §2.2, §8 column `obie-3.1`). Differences from 3.2:
 * - `iss` / `software_id` Base62 ≤ 18;
 * - `scope` is OPTIONAL and an **array** of strings (a space string is tolerated: conformance-dcr's
 *   signer always sends one); responses return it as an array;
 * - the subject DN claim is `tls_client_auth_dn`, stored as `tls_client_auth_subject_dn` (both names
 *   accepted).
 */
import { BASE62_18 } from './common.js';
import { obie32 } from './obie-3.2.js';
import type { Profile } from './types.js';

export const obie31: Profile = {
  ...obie32,
  name: 'obie-3.1',
  title: 'UK Open Banking Dynamic Client Registration 3.1',
  sources: ['OBIE DCR 3.1', ...obie32.sources],
  claims: {
    ...obie32.claims,
    required: obie32.claims.required.filter((claim) => claim !== 'scope'),
  },
  identity: {
    ...obie32.identity,
    issuerPattern: BASE62_18,
    // Also applied to the SSA software_id: the request iss (≤ 18) must equal it.
    softwareIdPattern: BASE62_18,
  },
  clientAuth: {
    ...obie32.clientAuth,
    claimAliases: { tls_client_auth_dn: 'tls_client_auth_subject_dn' },
  },
  scope: {
    ...obie32.scope,
    requestFormats: ['array', 'string'],
    // Not stated by OBIE 3.1 (policy): an omitted scope registers every scope the roles allow.
    whenOmitted: 'all-allowed',
  },
};
