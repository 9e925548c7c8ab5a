import { runService } from '../../shared/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { startOps } from './service.js';

await runService('ops', { sandboxTrust }, async (rt) => {
  const ops = await startOps(rt);
  rt.logger.info({ url: ops.url }, 'ops admin API listening');
  return ops;
});
