/**
 * UK Open Banking DCR v3.3: 3.2 plus the CIBA grant and its conditional metadata (SPEC §2.2).
 */
import { obie32 } from './obie-3.2.js';
import { CIBA_GRANT_TYPE, type Profile } from './types.js';

export const obie33: Profile = {
  ...obie32,
  name: 'obie-3.3',
  title: 'UK Open Banking Dynamic Client Registration 3.3',
  sources: ['OBIE DCR 3.3', ...obie32.sources],
  grants: {
    ...obie32.grants,
    grantTypes: [...obie32.grants.grantTypes, CIBA_GRANT_TYPE],
  },
  // backchannel_* are conditional (0..1), REQUIRED iff the CIBA grant is requested; push refused.
  ciba: { enabled: true, deliveryModes: ['poll', 'ping'], userCodeParameterSupported: false },
};
