import { runService } from '../../platform/runtime/bootstrap.js';
import { verifierService } from './service.js';

// The production entry point: trust and the AS from configuration only (no sandbox code is imported).
await runService(verifierService);
