/** The sandbox adapter (DCR_AS_PROVISIONING=sandbox) under the port's shared contract (test/as/as-port.contract.ts). */
import { openAsStore, SandboxAsProvisioning } from '../../sandbox/sandbox-as/index.js';
import { startTestPipeline } from '../support/pipeline.js';
import { describeAsPortContract } from './as-port.contract.js';

describeAsPortContract('sandbox', async () => {
  const pipeline = await startTestPipeline({ stages: false });
  const store = await openAsStore(pipeline.rt.config);
  const as = new SandboxAsProvisioning(store);
  // a second handle on the same store to read what the AS holds
  const reader = await openAsStore(pipeline.rt.config);
  return {
    as,
    count: async (clientId) => ((await reader.getClient(clientId))?.status === 'active' ? 1 : 0),
    subjectDn: async (clientId) => {
      const dn = (await reader.getClient(clientId))?.data['tls_client_auth_subject_dn'];
      return typeof dn === 'string' ? dn : undefined;
    },
    // the sandbox AS takes any metadata the pipeline verified
    refusal: null,
    close: async () => {
      await reader.close();
      await as.close();
      await pipeline.stop();
    },
  };
});
