import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../../../platform/http/fastify-errors.js';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Compares a presented token with the admin token in constant time (both hashed to equal length). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function challenge(error?: string): Record<string, string> {
  return { 'www-authenticate': error ? `Bearer realm="dcr-admin", error="${error}"` : 'Bearer realm="dcr-admin"' };
}

/**
 * `Authorization: Bearer $DCR_ADMIN_TOKEN` on every route of the scope it is registered in
 * (an `onRequest` hook: nothing of the request is parsed before the caller is known).
 */
export function requireAdminToken(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) throw new HttpError('ERR_UNAUTHORIZED', 'an admin token is required (Authorization: Bearer ...)', challenge());
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (!match?.[1] || !tokenMatches(match[1], token)) {
      throw new HttpError('ERR_INVALID_TOKEN', 'the admin token is not valid', challenge('invalid_token'));
    }
  });
}
