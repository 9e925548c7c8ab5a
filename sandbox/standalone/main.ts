import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { TOPICS } from '../../core/domain/events.js';
import { createLogger, defaultLogFormat } from '../../platform/runtime/logger.js';
import { createRuntime, type Runtime } from '../../platform/runtime/runtime.js';
import { trustFromConfig, type Trust } from '../../platform/runtime/trust.js';
import { sandboxTrust, startSandboxDirectoryServer, type SandboxServer } from '../directory-sandbox/index.js';
import { startIntake } from '../../services/intake/service.js';
import { startOps } from '../../services/ops/service.js';
import { startProvisioner } from '../../services/provisioner/service.js';
import { sandboxAuthorizationServer, startSandboxAs, type RunningSandboxAs } from '../sandbox-as/index.js';
import { startRevocation } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { eventLine } from './event-lines.js';
import { sandboxState, sandboxStateLines } from './sandbox-notices.js';

/**
 * `npm start`: the whole pipeline in one process on the embedded adapters (or the distributed ones
 * when configured), with the sandbox directory when no trust is configured.
 */
async function main(): Promise<void> {
  // The sandbox runs its own AS (sandbox/sandbox-as) unless another one is configured: with
  // `sandboxAs` the AS issuer and JWKS default to it (platform/config/variables.ts `as.issuer`).
  const config = loadConfig(process.env, { sandboxByDefault: true, sandboxAs: true });
  const sandboxAsIssuer = `https://localhost:${config.as.port}`;
  let trust: Trust;
  let directory: Awaited<ReturnType<typeof sandboxTrust>>['directory'] | undefined;
  let sandbox: SandboxServer | undefined;
  if (config.sandbox) {
    const resolved = await sandboxTrust(config);
    trust = resolved.trust;
    directory = resolved.directory;
    sandbox = await startSandboxDirectoryServer(resolved.directory, { host: config.host, port: config.sandboxPort });
  } else {
    trust = trustFromConfig(config);
  }
  // A person at a terminal gets pino-pretty lines; pipes, files and DCR_LOG_FORMAT=json get JSON.
  const logger = createLogger('standalone', config.logLevel, defaultLogFormat(config.logFormat, true));
  const rt: Runtime = await createRuntime(config, trust, 'standalone', { relay: true, logger, ...(config.sandbox ? { sandboxAuthorizationServer } : {}) });
  const stages = [await startVerifier(rt), startRevocation(rt), await startProvisioner(rt)];
  let as: RunningSandboxAs | undefined;
  if (directory && config.as.issuer === sandboxAsIssuer) {
    const tls = await directory.issueServerCertificate([...new Set(['localhost', '127.0.0.1', config.host])]);
    as = await startSandboxAs(rt, { host: config.host, port: config.as.port, issuer: sandboxAsIssuer, tls, clientCaPems: trust.clientCaPems });
  }
  const sandboxAs = as;
  const intake = await startIntake(rt, sandboxAs ? { discoveryExtra: () => sandboxAs.discoveryExtra(`${config.publicUrl}/register`) } : {});
  const ops = await startOps(rt);
  // One line per published event, registration outcomes (registered, rejected, failed) included.
  const console_ = await rt.adapters.bus.subscribe({ groupId: 'standalone-console', topics: [TOPICS.client, TOPICS.registration] }, async (event) => {
    const { fields, msg } = eventLine(event);
    rt.logger.info(fields, msg);
  });
  const state = directory ? sandboxStateLines(await sandboxState(directory)) : [];

  const lines = [
    '',
    `DCR pipeline running: ${rt.adapters.mode} mode, profile ${config.profile}, data in ${config.dataDir}`,
    `  intake (mutual TLS)   ${intake.url}   public URL ${config.publicUrl}`,
    ...(sandbox ? [`  sandbox directory     ${sandbox.url}`] : []),
    ...(sandboxAs ? [`  sandbox AS (mTLS)     ${sandboxAs.issuer}   token ${sandboxAs.tokenEndpoint}, JWKS ${sandboxAs.jwksUrl}`] : []),
    `  admin API, dashboard  ${ops.url}/admin/   metrics ${ops.url}/metrics (admin token)`,
    `  AS provisioning       ${config.as.provisioning}${config.as.provisioning === 'events' ? `: registered once consumer group(s) ${config.as.eventGroups.join(', ')} applied the client event` : ''}`,
    ...(state.length ? ['', 'Sandbox state (kept in the data directory):', ...state] : []),
    '',
    'Try next, in another terminal:',
    ...(sandbox
      ? [
          '  npx dcr-pipeline sandbox tpp create acme --roles AISP,PISP   # a TPP in the sandbox directory',
          '  npx dcr-pipeline register --tpp acme                          # sign, submit over mTLS, print the client',
          '  npx dcr-pipeline status <request_id>                          # poll a registration',
          '  npx dcr-pipeline token --tpp acme                             # client-credentials token from the sandbox AS',
          '  npx dcr-pipeline client get <client_id> --tpp acme --as-token # RFC 7592 read with that token',
        ]
      : ['  npx dcr-pipeline register --ssa FILE --cert FILE --key FILE --signing-key FILE --kid KID']),
    '  npx dcr-pipeline ops failed                                   # failed registrations; ops replay ID | --all',
    '  events log here as they are published (dcr.client.created, dcr.registration.rejected, ...)',
    '',
  ];
  process.stdout.write(lines.join('\n'));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await intake.stop();
    await sandboxAs?.stop();
    await ops.stop();
    await Promise.all(stages.map((s) => s.stop()));
    await console_.close();
    await rt.close();
    await sandbox?.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError) console.error(`configuration error: ${error.message}`);
  else console.error(`dcr pipeline failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
