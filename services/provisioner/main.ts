import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { startProvisioner } from './service.js';

await runService('provisioner', { sandboxTrust, relay: true }, startProvisioner);
