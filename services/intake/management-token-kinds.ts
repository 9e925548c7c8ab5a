/**
 * Which kinds of Bearer token a profile accepts on the RFC 7592 management endpoints
 * (profile `management.tokenKinds`, SPEC §8 "management auth"). CDR accepts only an access token of
 * the bank's AS with scope `cdr:registration` (CDR DCR APIs: GET/PUT/DELETE /register/{ClientId} are
 * protected by an access token of the client-credentials grant); its registration access token is
 * refused. OBIE accepts both; RFC 7591, FAPI 2.0 and Open Finance Brasil the registration access token.
 */
import type { ManagementTokenKind, Profile } from '../../core/profiles/types.js';

export function tokenKindAccepted(profile: Pick<Profile, 'management'>, kind: ManagementTokenKind): boolean {
  return profile.management.tokenKinds.includes(kind);
}

/** The `error_description` of a 401 for a token of a kind the profile does not accept. */
export function refusedKindDescription(profile: Pick<Profile, 'name' | 'management'>, kind: ManagementTokenKind): string {
  const scope = profile.management.requiredScope;
  const wanted = profile.management.tokenKinds
    .map((k) => (k === 'registration_access_token' ? 'the registration access token' : `an access token of the authorization server${scope ? ` with scope ${scope}` : ''}`))
    .join(' or ');
  const what = kind === 'registration_access_token' ? 'a registration access token' : 'an authorization server access token';
  return `${what} is not accepted by profile ${profile.name}; present ${wanted}`;
}

/** How a management call was authenticated: the kind of token, and the token itself when it is the registration access token. */
export type ManagementCredential =
  | { readonly kind: 'registration_access_token'; readonly token: string }
  | { readonly kind: 'client_credentials_access_token' };
