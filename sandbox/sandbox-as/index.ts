export { startSandboxAs, SANDBOX_AS_GROUP, SANDBOX_AS_SCOPES, type RunningSandboxAs, type SandboxAsOptions } from './server.js';
export { requestClientCredentials, type ClientCredentialsRequest, type TokenAuthMethod } from './client-credentials.js';
export type { AsStore } from '../../core/ports/sandbox-as-store.js';
export { openAsStore } from '../../platform/runtime/service-stores.js';
export { SandboxAsProvisioning, sandboxAuthorizationServer } from './provisioning.js';
