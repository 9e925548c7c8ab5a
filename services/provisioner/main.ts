import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../sandbox-as/provisioning.js';
import { startProvisioner } from './service.js';

await runService('provisioner', { sandboxTrust, sandboxAuthorizationServer, relay: true }, startProvisioner);
