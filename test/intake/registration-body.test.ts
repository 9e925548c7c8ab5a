import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenSealer } from '../../platform/crypto/token-sealer.js';
import type { Registration } from '../../core/domain/registration.js';
import { registrationBody } from '../../services/intake/submission.js';

const sealer = new TokenSealer(randomBytes(32));

function registered(updatedAt: string): Registration {
  return {
    id: 'req-1',
    kind: 'create',
    status: 'registered',
    generation: 0,
    submissionKey: 'k',
    contentType: 'application/jwt',
    body: 'a.b.c',
    certificate: { pem: '', thumbprint: 't', subjectDn: '', issuerDn: '', serialNumber: '01', tppIdentity: 'org:x' },
    submittedAt: updatedAt,
    updatedAt,
    attempts: {},
    history: [],
    version: 3,
    outcome: { response: { client_id: 'c1', registration_client_uri: 'https://bank/register/c1' } },
    sealedToken: sealer.seal('the-token', 'req-1'),
  };
}

describe('the registration body a submitter collects', () => {
  it('carries the registration access token within the delivery window', () => {
    const at = Date.parse('2026-11-25T10:00:00Z');
    const body = registrationBody({ sealer, resultTtlSeconds: 3600 }, registered(new Date(at).toISOString()), at + 3_599_000);
    expect(body).toEqual({ client_id: 'c1', registration_client_uri: 'https://bank/register/c1', registration_access_token: 'the-token' });
  });

  it('leaves the token out once the window has passed', () => {
    const at = Date.parse('2026-11-25T10:00:00Z');
    const body = registrationBody({ sealer, resultTtlSeconds: 3600 }, registered(new Date(at).toISOString()), at + 3_601_000);
    expect(body).toEqual({ client_id: 'c1', registration_client_uri: 'https://bank/register/c1' });
  });

  it('refuses a token sealed for another request', () => {
    const reg = { ...registered(new Date().toISOString()), id: 'req-2' };
    expect(() => registrationBody({ sealer }, reg)).toThrow();
  });
});
