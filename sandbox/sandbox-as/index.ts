export { startSandboxAs, SANDBOX_AS_GROUP, SANDBOX_AS_SCOPES, type RunningSandboxAs, type SandboxAsOptions } from './server.js';
export { requestClientCredentials, type ClientCredentialsRequest, type TokenAuthMethod } from './client-credentials.js';
export { openAsStore, type AsStore } from './store.js';
export { SandboxAsProvisioning, sandboxAuthorizationServer } from './provisioning.js';
