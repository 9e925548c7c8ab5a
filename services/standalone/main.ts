import { loadConfig } from '../../shared/config/load.js';
import { ConfigurationError } from '../../shared/domain/errors.js';
import { TOPICS } from '../../shared/domain/events.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { trustFromConfig, type Trust } from '../../shared/runtime/trust.js';
import { sandboxTrust, startSandboxDirectoryServer, type SandboxServer } from '../directory-sandbox/index.js';
import { startIntake } from '../intake/service.js';
import { startOps } from '../ops/service.js';
import { startProvisioner } from '../provisioner/service.js';
import { sandboxAuthorizationServer, startSandboxAs, type RunningSandboxAs } from '../sandbox-as/index.js';
import { startRevocation } from '../revocation/service.js';
import { startVerifier } from '../verifier/service.js';

/**
 * `npm start`: the whole pipeline in one process on the embedded adapters (or the distributed ones
 * when configured), with the sandbox directory when no trust is configured.
 */
async function main(): Promise<void> {
  let config = loadConfig();
  // The sandbox runs its own AS (services/sandbox-as) unless another one is configured.
  const sandboxAsIssuer = `https://localhost:${config.as.port}`;
  if (config.sandbox && !config.as.issuer && !config.as.introspectionUrl) {
    config = loadConfig({ ...process.env, DCR_AS_ISSUER: sandboxAsIssuer, DCR_AS_JWKS_URL: `${sandboxAsIssuer}/jwks` });
  }
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
  const rt: Runtime = await createRuntime(config, trust, 'standalone', { relay: true, ...(config.sandbox ? { sandboxAuthorizationServer } : {}) });
  const stages = [await startVerifier(rt), startRevocation(rt), await startProvisioner(rt)];
  let as: RunningSandboxAs | undefined;
  if (directory && config.as.issuer === sandboxAsIssuer) {
    const tls = await directory.issueServerCertificate([...new Set(['localhost', '127.0.0.1', config.host])]);
    as = await startSandboxAs(rt, { host: config.host, port: config.as.port, issuer: sandboxAsIssuer, tls, clientCaPems: trust.clientCaPems });
  }
  const sandboxAs = as;
  const intake = await startIntake(rt, sandboxAs ? { discoveryExtra: () => sandboxAs.discoveryExtra(`${config.publicUrl}/register`) } : {});
  const ops = await startOps(rt);
  const console_ = await rt.adapters.bus.subscribe({ groupId: 'standalone-console', topics: [TOPICS.client] }, async (event) => {
    process.stdout.write(`event ${event.type} ${event.subject} (id ${event.id})\n`);
  });

  const lines = [
    '',
    `DCR pipeline running: ${rt.adapters.mode} mode, profile ${config.profile}, data in ${config.dataDir}`,
    `  intake (mutual TLS)   ${intake.url}   public URL ${config.publicUrl}`,
    ...(sandbox ? [`  sandbox directory     ${sandbox.url}`] : []),
    ...(sandboxAs ? [`  sandbox AS (mTLS)     ${sandboxAs.issuer}   token ${sandboxAs.tokenEndpoint}, JWKS ${sandboxAs.jwksUrl}`] : []),
    `  admin API, dashboard  ${ops.url}/admin/   metrics ${ops.url}/metrics (admin token)`,
    `  AS provisioning       ${config.as.provisioning}${config.as.provisioning === 'events' ? `: registered once consumer group(s) ${config.as.eventGroups.join(', ')} applied the client event` : ''}`,
    '',
    'Try next, in another terminal:',
    ...(sandbox
      ? [
          '  npx dcr sandbox tpp create acme --roles AISP,PISP   # a TPP in the sandbox directory',
          '  npx dcr register --tpp acme                          # sign, submit over mTLS, poll, print the client',
          '  npx dcr status <request_id>                          # poll a registration',
          '  npx dcr token --tpp acme                             # client-credentials token from the sandbox AS',
          '  npx dcr client get <client_id> --tpp acme --as-token # RFC 7592 read with that token',
        ]
      : ['  npx dcr register --ssa FILE --cert FILE --key FILE --signing-key FILE --kid KID']),
    '  npx dcr ops failed                                   # failed registrations; npx dcr ops replay ID | --all',
    '  client events print here as they are published (dcr.client.created ...)',
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
