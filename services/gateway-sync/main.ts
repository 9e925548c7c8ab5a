import { runService } from '../../shared/runtime/bootstrap.js';
import { startGatewaySync } from './service.js';

await runService('gateway-sync', {}, startGatewaySync);
