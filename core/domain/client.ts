/**
 * `deleting`: an RFC 7592 DELETE was accepted and recorded (`deleteRequestedAt`) but is not yet
 * done at the bank's AS and here (core/clients/delete-client.ts); the management API treats it as
 * gone (GET/PUT 401) except for a repeated DELETE, which finishes it, and the delete sweep finishes
 * it too (core/pipeline/delete-sweep.ts). It still holds its `activeSoftwareKey`.
 */
export const CLIENT_STATUSES = ['active', 'deleting', 'deleted'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/** A provisioned OAuth client. The registration access token is kept only as a hash. */
export interface Client {
  clientId: string;
  /** The request that created it (provisioning is idempotent on it). */
  requestId: string;
  /** The request that last changed it. */
  lastRequestId: string;
  orgId: string;
  softwareId: string;
  status: ClientStatus;
  /** Registered metadata as returned to the TPP (RFC 7591 §3.2.1 + profile claims), without secrets. */
  metadata: Record<string, unknown>;
  /** SHA-256 (base64url) of the registration access token. */
  tokenHash: string;
  /** x5t#S256 of the certificate that registered it; management needs the same TPP. */
  certificateThumbprint: string;
  tppIdentity: string;
  clientIdIssuedAt: number;
  /**
   * Profiles with one registration per software (`registrationsPerSoftware: 'one'`): the software's
   * key (`<SSA issuer> <software id>`, the identity scoped to its issuer) until the client is
   * `deleted` (held while `deleting`: the AS may still have the client). Stores keep it unique among
   * clients not deleted and drop it on the `deleted` write, so a second client for the same software
   * cannot be inserted, even by two concurrent requests.
   */
  activeSoftwareKey?: string;
  /** When the RFC 7592 DELETE was recorded (ISO; set with status `deleting`, kept once `deleted`). */
  deleteRequestedAt?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}
