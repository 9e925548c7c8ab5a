import { DcrError } from '../domain/errors.js';

/**
 * The bank's authorization server (AS) as the provision stage sees it (issue 15: "registered" means
 * usable). The provisioner calls it before it commits `registered`, the intake's RFC 7592 DELETE
 * before it answers 204. Adapters live in `platform/adapters/authorization-server/`.
 *
 * Contract every adapter keeps (the conformance suite `test/as/as-port.contract.ts` checks it):
 * - `upsertClient` is idempotent and keyed by `client_id`: a second call with the same client
 *   leaves exactly one client at the AS, with the metadata of the last call (a crash between the
 *   AS call and our commit re-runs it with the same client id).
 * - `deleteClient` of an absent client resolves.
 * - A refusal caused by the metadata throws {@link AsClientRefused} (final: the registration is
 *   `rejected` with its description); anything else thrown (AS down, 5xx, timeout) is retryable.
 */
export interface AuthorizationServerPort {
  /** The adapter's name as configured (`DCR_AS_PROVISIONING`), recorded in errors and history. */
  readonly name: AsProvisioningMode;
  /** Creates or replaces the client at the AS. */
  upsertClient(client: AsClient): Promise<void>;
  /** Removes the client (and so every token it holds) from the AS; absent is fine. */
  deleteClient(clientId: string): Promise<void>;
  /**
   * Called after our store committed the client's change with its `dcr.client.*` event (`eventId`).
   * Resolves `true` once the AS can use that state, `false` if it cannot tell yet by `deadline`
   * (epoch ms): the stage then retries later and the registration stays `provisioning`. Adapters that
   * provision synchronously in {@link upsertClient} resolve `true` at once.
   */
  awaitApplied(change: { clientId: string; eventId: string; deadline: number }): Promise<boolean>;
  close(): Promise<void>;
}

/** How the pipeline provisions clients into the bank's AS (`DCR_AS_PROVISIONING`). */
export const AS_PROVISIONING_MODES = ['sandbox', 'keycloak', 'events', 'store'] as const;
export type AsProvisioningMode = (typeof AS_PROVISIONING_MODES)[number];

/** What the AS is told of a client: the registered metadata, as returned to the TPP, without secrets. */
export interface AsClient {
  clientId: string;
  orgId: string;
  softwareId: string;
  /** RFC 7591 §3.2.1 registered metadata (redirect_uris, grant_types, token_endpoint_auth_method, jwks_uri, scope, …). */
  metadata: Readonly<Record<string, unknown>>;
}

/** The AS refused the client because of its metadata: final, never retried. */
export class AsClientRefused extends DcrError {
  readonly code = 'ERR_AS_CLIENT_REFUSED';
  constructor(
    /** Which AS refused (`keycloak`, …). */
    readonly as: string,
    /** Why, for the TPP's `error_description` (no secrets, ≤ 300 chars). */
    readonly description: string,
  ) {
    super(`${as} refused the client: ${description}`);
  }
}

/** The AS could not be reached or failed (retryable); `as` names it in the registration's history. */
export class AsUnavailable extends DcrError {
  readonly code = 'ERR_AS_UNAVAILABLE';
  constructor(
    readonly as: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${as}: ${message}`, options);
  }
}
