import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { deleteClient } from '../../provisioner/delete-client.js';
import { managedClient, managementAuthHook } from '../management-auth.js';
import type { SubmissionDeps } from '../submission.js';
import { ErrorBody } from './schemas.js';
import { ClientIdParams, MANAGEMENT_SECURITY, type ClientIdParamsType } from './client-schemas.js';

/**
 * `DELETE /register/{client_id}` (RFC 7592 §2.3): marks the client deleted with its
 * `dcr.client.deleted` event in one atomic write, then answers exactly `204` (conformance DCR-003).
 * The token dies with the client: any later call with it is a 401.
 */
export async function clientDeleteRoute(app: FastifyInstance, options: { deps: SubmissionDeps }) {
  const { deps } = options;
  app.delete(
    '/register/:client_id',
    {
      config: { mtls: true },
      onRequest: managementAuthHook(deps.store),
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
      const { changed } = await deleteClient(deps.store, client);
      if (changed) deps.onCommitted?.();
      request.log.info({ clientId }, 'client deleted');
      return reply.header('cache-control', 'no-store').code(204).send();
    },
  );
}
