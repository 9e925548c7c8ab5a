import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { startVerifier } from './service.js';

await runService('verifier', { sandboxTrust }, startVerifier);
