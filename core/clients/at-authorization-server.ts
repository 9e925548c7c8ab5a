import { reject, RetryableFailure } from '../domain/errors.js';
import { AsClientRefused, type AsClient, type AuthorizationServerPort } from '../ports/authorization-server.js';

/**
 * The provision stage's calls to the bank's authorization server, with the pipeline's error classes:
 * a refusal caused by the metadata is the TPP's (a final `invalid_client_metadata`), anything else
 * is retried and, once the attempts are spent, `failed` and replayable, naming the AS.
 */
export async function upsertAtAs(as: AuthorizationServerPort, client: AsClient): Promise<void> {
  try {
    await as.upsertClient(client);
  } catch (error) {
    throw classify(as, error, 'provisioning the client');
  }
}

export async function deleteAtAs(as: AuthorizationServerPort, clientId: string): Promise<void> {
  try {
    await as.deleteClient(clientId);
  } catch (error) {
    throw classify(as, error, 'deleting the client');
  }
}

/**
 * After our commit: waits until the AS can use the change (`events` barrier); if it cannot tell by
 * the deadline, the attempt fails as retryable, so the registration stays `provisioning` (a 202 for
 * the TPP, which polls) and the stage tries again later.
 */
export async function awaitAtAs(as: AuthorizationServerPort, change: { clientId: string; eventId: string }, waitMs: number): Promise<void> {
  let applied: boolean;
  try {
    applied = await as.awaitApplied({ ...change, deadline: Date.now() + waitMs });
  } catch (error) {
    throw classify(as, error, 'waiting for the client event to be applied');
  }
  if (!applied) throw new RetryableFailure('authorization_server_pending', `${as.name}: client ${change.clientId} event ${change.eventId} not yet applied by the authorization server`);
}

function classify(as: AuthorizationServerPort, error: unknown, doing: string): Error {
  if (error instanceof AsClientRefused) return reject.metadata(`the authorization server refused the client: ${error.description}`);
  const message = error instanceof Error ? error.message : String(error);
  return new RetryableFailure('authorization_server_unavailable', `authorization server (${as.name}) failed while ${doing}: ${message}`, { cause: error });
}
