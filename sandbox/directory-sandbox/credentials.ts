import type { TppCredentials } from '../tpp-client/registration-request.js';
import type { SandboxTpp } from './directory.js';

/** What a sandbox TPP signs registration requests with (its software statement and signing key). */
export function sandboxCredentials(tpp: SandboxTpp): TppCredentials {
  return {
    softwareId: tpp.softwareId,
    ssa: tpp.ssa,
    signingJwk: tpp.signingPrivateJwk,
    kid: tpp.signingKid,
    alg: tpp.signingAlg,
    redirectUris: tpp.redirectUris,
    roles: tpp.roles,
  };
}
