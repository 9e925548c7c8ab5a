import { loadConfig } from '../../shared/config/load.js';
import { ConfigurationError } from '../../shared/domain/errors.js';
import { TOPICS } from '../../shared/domain/events.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { trustFromConfig, type Trust } from '../../shared/runtime/trust.js';
import { sandboxTrust, startSandboxDirectoryServer, type SandboxServer } from '../directory-sandbox/index.js';
import { startIntake } from '../intake/service.js';
import { startOps } from '../ops/service.js';
import { startProvisioner } from '../provisioner/service.js';
import { startRevocation } from '../revocation/service.js';
import { startVerifier } from '../verifier/service.js';

/**
 * `npm start`: the whole pipeline in one process on the embedded adapters (or the distributed ones
 * when configured), with the sandbox directory when no trust is configured.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  let trust: Trust;
  let sandbox: SandboxServer | undefined;
  if (config.sandbox) {
    const resolved = await sandboxTrust(config);
    trust = resolved.trust;
    sandbox = await startSandboxDirectoryServer(resolved.directory, { host: config.host, port: config.sandboxPort });
  } else {
    trust = trustFromConfig(config);
  }
  const rt: Runtime = await createRuntime(config, trust, 'standalone', { relay: true });
  const stages = [await startVerifier(rt), startRevocation(rt), startProvisioner(rt)];
  const intake = await startIntake(rt);
  const ops = await startOps(rt);
  const console_ = await rt.adapters.bus.subscribe({ groupId: 'standalone-console', topics: [TOPICS.client] }, async (event) => {
    process.stdout.write(`event ${event.type} ${event.subject} (id ${event.id})\n`);
  });

  const lines = [
    '',
    `DCR pipeline running: ${rt.adapters.mode} mode, profile ${config.profile}, data in ${config.dataDir}`,
    `  intake (mutual TLS)   ${intake.url}   public URL ${config.publicUrl}`,
    ...(sandbox ? [`  sandbox directory     ${sandbox.url}`] : []),
    `  admin API, dashboard  ${ops.url}/admin/   metrics ${ops.url}/metrics (admin token)`,
    '',
    'Try next, in another terminal:',
    ...(sandbox
      ? [
          '  npx dcr sandbox tpp create acme --roles AISP,PISP   # a TPP in the sandbox directory',
          '  npx dcr register --tpp acme                          # sign, submit over mTLS, poll, print the client',
          '  npx dcr status <request_id>                          # poll a registration',
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
