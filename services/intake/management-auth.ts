import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Client } from '../../core/domain/client.js';
import { hashToken, tokenMatches } from '../../platform/crypto/token-sealer.js';
import type { PresentedCertificate } from '../../core/domain/registration.js';
import { isLegacyIdentity } from '../../platform/pki/client-certificate.js';
import type { Store } from '../../core/ports/store.js';
import type { CredentialsToCheck } from '../../core/revocation/check.js';
import type { CredentialVerdict } from '../../platform/revocation/credential-check.js';
import type { AsTokenVerifier } from './as-tokens.js';
import { HttpError } from '../../platform/http/fastify-errors.js';
import type { Profile } from '../../core/profiles/types.js';
import { refusedKindDescription, tokenKindAccepted, type ManagementCredential } from './management-token-kinds.js';

/** The directory's verdict on an authenticated call's credentials (platform/revocation/credential-check.ts). */
export interface DirectoryVerdicts {
  check(credentials: CredentialsToCheck): Promise<CredentialVerdict>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** AS access-token verifier for the management endpoints (null: registration access token only). */
    managementTokens: AsTokenVerifier | null;
    /** The profile whose `management.tokenKinds` the management endpoints accept (null: every kind). */
    managementProfile: Pick<Profile, 'name' | 'management'> | null;
    /** Revocation checks on every authenticated call (null: the revocation stage's checks are off). */
    directoryVerdicts: DirectoryVerdicts | null;
  }
}

/** The `WWW-Authenticate` realm of the management endpoints (RFC 6750 §3). */
export const MANAGEMENT_REALM = 'dcr';

/** RFC 6750 §2.1 `b64token`, bounded. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 4096;

/** Compared against when the client is unknown, so that case costs what a wrong token costs. */
const DECOY_HASH = hashToken('decoy registration access token');

export type BearerToken = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/**
 * The Bearer token of an `Authorization` header (RFC 6750 §2.1). `none`: no credentials at all,
 * including `Bearer` with an empty token (conformance DCR-007); `malformed`: something that is not a
 * usable Bearer token.
 */
export function bearerToken(header: string | string[] | undefined): BearerToken {
  if (header === undefined) return { kind: 'none' };
  if (Array.isArray(header)) return { kind: 'malformed' };
  const value = header.trim();
  if (value === '') return { kind: 'none' };
  const match = /^(\S+)(?:\s+(.*))?$/.exec(value);
  if (!match || match[1]?.toLowerCase() !== 'bearer') return { kind: 'malformed' };
  const token = (match[2] ?? '').trim();
  if (token === '') return { kind: 'none' };
  if (token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}

/** 401 per RFC 6750 §3 / SPEC §1 rules 5–6; `error="invalid_token"` only when a token was presented. */
export function unauthorized(description: string, tokenPresented: boolean): HttpError {
  const challenge = tokenPresented ? `Bearer realm="${MANAGEMENT_REALM}", error="invalid_token"` : `Bearer realm="${MANAGEMENT_REALM}"`;
  return new HttpError('ERR_INVALID_TOKEN', description, { 'www-authenticate': challenge });
}

/** What {@link authenticateManagement} reads from the store. */
export type ManagementStore = Pick<Store, 'getClient' | 'getRegistration'>;

/**
 * Authenticates an RFC 7592 management call on `clientId`: the registration access token as a Bearer
 * token (checked in constant time against the stored hash), and a client certificate of the TPP that
 * registered the client (SPEC §6, last bullet), then the directory's verdict on that certificate and
 * organisation ({@link applyDirectoryVerdict}). Unknown or deleted client, and a missing, empty or
 * wrong token, are indistinguishable 401s (a wrong token costs the same work whether the client
 * exists or not, AS token check included); a valid token with another TPP's certificate is a 403.
 * With `asTokens` (OBIE/CDR profiles and a configured AS), a client-credentials access token of the
 * bank's AS for this client is accepted too (as-tokens.ts: JWT by JWKS, or RFC 7662 introspection).
 * Returns the active client (or, with `acceptDeleting`, one being deleted: a GET or PUT on it is the
 * 401 of a deleted client, RFC 7592 §2.3, since the TPP asked for it to go).
 */
export async function authenticateManagement(
  request: FastifyRequest,
  store: ManagementStore,
  clientId: string,
  asTokens: AsTokenVerifier | null = null,
  profile: Pick<Profile, 'name' | 'management'> | null = null,
  credential?: (used: ManagementCredential) => void,
  /** `deleting` too: a repeated DELETE finishes a delete whose intent is recorded (core/clients/delete-client.ts). */
  acceptDeleting = false,
): Promise<Client> {
  const presented = bearerToken(request.headers.authorization);
  if (presented.kind === 'none') throw unauthorized('a Bearer registration access token is required', false);
  if (presented.kind === 'malformed') throw unauthorized('the Authorization header does not carry a valid Bearer token', true);

  const client = await store.getClient(clientId);
  const managed = client?.status === 'active' || (acceptDeleting && client?.status === 'deleting') ? client : null;
  let matches = tokenMatches(presented.token, managed?.tokenHash ?? DECOY_HASH);
  if (managed && matches && profile && !tokenKindAccepted(profile, 'registration_access_token')) {
    throw unauthorized(refusedKindDescription(profile, 'registration_access_token'), true);
  }
  let used: ManagementCredential | null = matches ? { kind: 'registration_access_token', token: presented.token } : null;
  // OBIE / CDR: a client-credentials access token the bank's AS issued to this client (SPEC §1 rule 4).
  // Asked for an unknown client too (its client_id cannot match), so that path costs the same.
  if (!matches && asTokens) {
    const verdict = await asTokens.verify(presented.token, { clientId: managed?.clientId ?? clientId, certificateThumbprint: request.clientCertificate?.thumbprint ?? null });
    if (verdict.ok && managed) {
      matches = true;
      used = { kind: 'client_credentials_access_token' };
    }
    else if (managed && !verdict.ok) request.log.info({ clientId: managed.clientId, reason: verdict.reason }, 'management call with a refused access token');
  }
  if (!managed || !matches) throw unauthorized('the access token is not valid for this client', true);

  const certificate = request.clientCertificate;
  if (!certificate) throw new HttpError('ERR_INVALID_CLIENT', 'a client certificate issued by a trusted CA is required (mutual TLS)');
  // The registration that last changed the client: its certificate (for identities stored before
  // they were scoped to their CA) and its verified SSA (for the directory's verdict).
  const storedPem = isLegacyIdentity(managed.tppIdentity) ? ((await store.getRegistration(managed.requestId))?.certificate.pem ?? null) : null;
  if (!request.server.certificateIdentities.same(managed.tppIdentity, storedPem, certificate)) {
    throw new HttpError('ERR_ACCESS_DENIED', 'the client certificate does not belong to the organisation that registered this client');
  }
  const verified = (await store.getRegistration(managed.lastRequestId))?.verified ?? null;
  await applyDirectoryVerdict(request, certificate, {
    ssa: verified?.ssa ?? null,
    organisation: organisationOf(verified?.ssa ?? null, verified?.orgId ?? managed.orgId, verified?.softwareId ?? managed.softwareId),
    challenge: `Bearer realm="${MANAGEMENT_REALM}", error="invalid_token"`,
  });
  if (used) credential?.(used);
  return managed;
}

/** The status API's organisation key (`legal_entity_id`, else the org id) and software id. */
export function organisationOf(ssa: Record<string, unknown> | null, orgId: string, softwareId: string): { orgKey: string; softwareId: string } {
  return { orgKey: typeof ssa?.legal_entity_id === 'string' ? ssa.legal_entity_id : orgId, softwareId };
}

/**
 * The directory's word on every authenticated call (status polling, RFC 7592 GET/PUT/DELETE): the
 * revocation stage's checks on the presented certificate and the organisation/software the client or
 * request was registered with. Revoked: 401 JSON with `WWW-Authenticate`; a directory that cannot
 * answer (and no soft-fail for that check): 503 with `Retry-After`.
 */
export async function applyDirectoryVerdict(
  request: FastifyRequest,
  certificate: PresentedCertificate,
  facts: { ssa: Record<string, unknown> | null; organisation: { orgKey: string; softwareId: string } | null; challenge: string },
): Promise<void> {
  const verdicts = request.server.directoryVerdicts;
  if (!verdicts) return;
  const verdict = await verdicts.check({ certificatePem: certificate.pem, ssa: facts.ssa, signingKid: '', organisation: facts.organisation });
  if (verdict.ok) return;
  if (verdict.revoked) {
    request.log.info({ reason: verdict.reason }, 'authenticated call refused: the directory revoked the credentials');
    throw new HttpError('ERR_INVALID_CLIENT', `the directory does not accept these credentials: ${verdict.reason}`, { 'www-authenticate': facts.challenge });
  }
  request.log.warn({ reason: verdict.reason }, 'authenticated call not judged: the directory could not be asked');
  throw new HttpError('ERR_DIRECTORY_UNAVAILABLE', 'the directory could not be asked about this client certificate; retry later', { 'retry-after': '5' });
}

const authenticated = new WeakMap<FastifyRequest, Client>();
const credentials = new WeakMap<FastifyRequest, ManagementCredential>();

/**
 * A route `onRequest` hook that authenticates the management call on the path's `client_id` before
 * the body is parsed or validated, so an unauthenticated caller always gets the 401/403 and never a
 * body error. The handler reads the client with {@link managedClient}.
 */
export function managementAuthHook(store: ManagementStore, options: { acceptDeleting?: boolean } = {}): onRequestAsyncHookHandler {
  return async (request) => {
    const params = request.params as Record<string, unknown> | undefined;
    const clientId = typeof params?.client_id === 'string' && params.client_id.length <= 64 ? params.client_id : '';
    const profile = request.server.hasDecorator('managementProfile') ? request.server.managementProfile : null;
    authenticated.set(request, await authenticateManagement(request, store, clientId, request.server.managementTokens ?? null, profile, (used) => credentials.set(request, used), options.acceptDeleting === true));
  };
}

/** The client {@link managementAuthHook} authenticated for this request. */
export function managedClient(request: FastifyRequest): Client {
  const client = authenticated.get(request);
  if (!client) throw new Error('management route without the management authentication hook');
  return client;
}

/**
 * How {@link managementAuthHook} authenticated this request. The registration access token is
 * known only when it was the credential presented (its hash is all the store keeps).
 */
export function managementCredential(request: FastifyRequest): ManagementCredential | null {
  return credentials.get(request) ?? null;
}
