import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RetryableFailure } from '../../../core/domain/errors.js';
import { HttpError } from '../../../platform/http/fastify-errors.js';
import { deleteClient, deletedEventId } from '../../../core/clients/delete-client.js';
import { managedClient, managementAuthHook } from '../management-auth.js';
import type { SubmissionDeps } from '../submission.js';
import { ErrorBody } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, type ClientIdParamsType } from './client-schemas.js';

/**
 * `DELETE /register/{client_id}` (RFC 7592 §2.3): records the delete intent (the client becomes
 * `deleting`), removes the client from the bank's authorization server, marks it deleted with its
 * `dcr.client.deleted` event in one atomic write, then answers exactly `204` (conformance DCR-003).
 * The token dies with the client: from the intent on, GET and PUT with it are 401, and once deleted
 * a DELETE too; the AS issues it no more tokens. An AS that cannot be reached (or a crash): `503`
 * with Retry-After, the intent stays, and a repeated DELETE (still authenticated while `deleting`)
 * or the delete sweep finishes it. With the `events` adapter the answer waits (up to
 * DCR_SYNC_WAIT_MS) for the consumer groups to apply the deletion.
 */
export async function clientDeleteRoute(app: FastifyInstance, options: { deps: SubmissionDeps }) {
  const { deps } = options;
  app.delete(
    '/register/:client_id',
    {
      config: { mtls: true },
      onRequest: managementAuthHook(deps.store, { acceptDeleting: true }),
      schema: {
        summary: 'Delete a client registration (RFC 7592 §2.3)',
        security: MANAGEMENT_SECURITY,
        params: ClientIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const { client_id: clientId } = request.params as ClientIdParamsType;
      const client = managedClient(request);
      const as = deps.authorizationServer;
      let changed: boolean;
      try {
        ({ changed } = await deleteClient(deps.store, as, client));
      } catch (error) {
        if (error instanceof RetryableFailure && error.reason === 'authorization_server_unavailable') {
          request.log.warn({ clientId, as: as.name, err: error.message }, 'client delete: the authorization server is unavailable');
          throw new HttpError('ERR_AS_UNAVAILABLE', 'the authorization server cannot be reached; the deletion is recorded and will be completed; repeat the DELETE to confirm', { 'retry-after': '5' });
        }
        throw error;
      }
      if (changed) {
        deps.onCommitted?.();
        const applied = await as.awaitApplied({ clientId, eventId: deletedEventId(clientId), deadline: Date.now() + (deps.deleteWaitMs ?? 0) }).catch(() => false);
        if (!applied) request.log.warn({ clientId, as: as.name }, 'client delete committed; the authorization server has not applied it yet');
      }
      request.log.info({ clientId }, 'client deleted');
      return reply.header('cache-control', 'no-store').code(204).send();
    },
  );
}
