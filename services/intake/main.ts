import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../sandbox-as/provisioning.js';
import { startIntake } from './service.js';

await runService('intake', { sandboxTrust, sandboxAuthorizationServer }, async (rt) => {
  const intake = await startIntake(rt);
  rt.logger.info({ url: intake.url }, 'intake listening (mutual TLS)');
  return intake;
});
