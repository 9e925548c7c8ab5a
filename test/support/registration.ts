import type { Registration } from '../../core/domain/registration.js';

/**
 * A registration record for store-level tests: `received`, generation 0, version 0, a placeholder
 * request and certificate, submitted now unless `overrides.submittedAt` says when (`updatedAt`
 * follows it); `overrides` sets anything else.
 */
export function aRegistration(id: string, overrides: Partial<Registration> = {}): Registration {
  const at = overrides.submittedAt ?? new Date().toISOString();
  return {
    id,
    kind: 'create',
    status: 'received',
    generation: 0,
    submissionKey: `key-${id}`,
    contentType: 'application/jwt',
    body: 'eyJhbGciOiJQUzI1NiJ9.e30.c2ln',
    certificate: { pem: '', thumbprint: 't', subjectDn: 'CN=x', issuerDn: 'CN=ca', serialNumber: '01', tppIdentity: 'org' },
    submittedAt: at,
    updatedAt: at,
    attempts: {},
    history: [],
    version: 0,
    ...overrides,
  };
}
