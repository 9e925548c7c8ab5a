import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { startRevocation } from './service.js';

await runService('revocation', { sandboxTrust }, startRevocation);
