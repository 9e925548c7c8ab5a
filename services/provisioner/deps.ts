import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import type { Store } from '../../core/ports/store.js';
import type { Profile } from '../../core/profiles/index.js';
import type { TokenSealer } from '../../platform/crypto/token-sealer.js';

/** What the provisioner needs, for a creation (stage.ts) and an RFC 7592 update (update-client.ts) alike. */
export interface ProvisioningDeps {
  profile: Profile;
  store: Store;
  sealer: TokenSealer;
  publicUrl: string;
  /**
   * RFC 7592 §2.2: issue a new registration access token on every update (DCR_ROTATE_REGISTRATION_TOKEN);
   * absent: the profile's `management.tokenRotation` default (SPEC §6: default off). Never where the
   * profile forbids it.
   */
  rotateTokenOnUpdate?: boolean | undefined;
  /** The bank's authorization server: told of the client before `registered` is committed. */
  as: AuthorizationServerPort;
  /** How long one attempt waits for the AS to apply a committed change (`events` barrier). */
  applyWaitMs: number;
  /** Wakes the outbox relay after a commit that wrote events (the client's own outbox). */
  onCommitted?: () => void;
}
