/** Public API of the sandbox regulated directory. */
export { SandboxDirectory, SANDBOX_FILES } from './directory.js';
export type { CreateTppOptions, Jwks, JwksSet, SandboxDirectoryOptions, SandboxTpp } from './directory.js';
export { startSandboxDirectoryServer } from './server.js';
export type { SandboxServer, SandboxServerOptions } from './server.js';
export { SandboxConflictError, SandboxInputError, SandboxNotFoundError } from './errors.js';
export { DEFAULT_SSA_ISSUER, ecosystemOfProfile, type SandboxEcosystem } from './ssa.js';
export { CA_COMMON_NAME } from './ca.js';
export { TPP_FILES, transportSubjectDn } from './tpp.js';
export type { TppMetadata } from './tpp.js';
export type { SigningAlg } from './jwks.js';
export type { OrgStatus, SoftwareStatus } from './state.js';
export type { SandboxCertificateStatus } from './ocsp.js';
/**
 * The @peculiar/x509 namespace, loaded after the Reflect metadata polyfill it needs under Node ESM
 * and with its crypto provider set to Node's WebCrypto.
 */
export { x509 } from './webcrypto.js';
export { sandboxDirectoryOptions, sandboxTrust } from './trust.js';
export { sandboxCredentials } from './credentials.js';
