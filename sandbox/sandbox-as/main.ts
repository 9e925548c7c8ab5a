import { ConfigurationError } from '../../core/domain/errors.js';
import { runService } from '../../platform/runtime/bootstrap.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { sandboxAuthorizationServer } from './provisioning.js';
import { startSandboxAs } from './server.js';

/**
 * The sandbox AS as its own process (distributed mode): `DCR_SANDBOX=1`, listening on
 * `DCR_HOST:DCR_AS_PORT`, issuer `DCR_AS_ISSUER` (default `https://localhost:DCR_AS_PORT`), fed by
 * `dcr.client.v1`. Point the intake at it with DCR_AS_ISSUER and DCR_AS_JWKS_URL (`ISSUER/jwks`).
 */
await runService(
  {
    name: 'sandbox-as',
    async start(rt) {
      if (!rt.config.sandbox) throw new ConfigurationError('DCR_SANDBOX', 'the sandbox AS runs only in the sandbox (DCR_SANDBOX=1)');
      const { directory } = await sandboxTrust(rt.config);
      const issuer = rt.config.as.issuer ?? `https://localhost:${rt.config.as.port}`;
      const hostnames = [...new Set(['localhost', '127.0.0.1', new URL(issuer).hostname, rt.config.host])];
      const as = await startSandboxAs(rt, {
        host: rt.config.host,
        port: rt.config.as.port,
        issuer,
        tls: await directory.issueServerCertificate(hostnames),
        clientCaPems: rt.trust.clientCaPems,
      });
      rt.logger.info({ issuer: as.issuer, port: as.port }, 'sandbox AS listening (mutual TLS)');
      return as;
    },
  },
  { sandboxTrust, sandboxAuthorizationServer },
);
