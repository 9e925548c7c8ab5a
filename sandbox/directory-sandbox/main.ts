/**
 * The sandbox directory as its own process.
 * Env (entries of the configuration table, platform/config/variables.ts): DCR_DATA_DIR (./var),
 * DCR_SANDBOX_HOST (127.0.0.1), DCR_SANDBOX_PORT (8444), DCR_SANDBOX_BASE_URL
 * (https://localhost:<port>), DCR_SSA_ISSUER (the first is signed as), DCR_PROFILE (which directory it plays),
 * DCR_SANDBOX_JWKS_CACHE_CONTROL (max-age=60; `no-store` for the benchmark's no-store mode).
 */
import { ConfigurationError } from '../../core/domain/errors.js';
import { loadSandboxConfig } from './config.js';
import { SandboxDirectory } from './directory.js';
import { startSandboxDirectoryServer } from './server.js';

async function main(): Promise<void> {
  const config = loadSandboxConfig();
  const dir = await SandboxDirectory.open({
    dataDir: config.dataDir,
    baseUrl: config.baseUrl,
    ...(config.ssaIssuer ? { ssaIssuer: config.ssaIssuer } : {}),
    ecosystem: config.ecosystem,
  });
  const server = await startSandboxDirectoryServer(dir, {
    host: config.host,
    port: config.port,
    ...(config.jwksCacheControl ? { jwksCacheControl: config.jwksCacheControl } : {}),
  });
  console.log(`sandbox directory listening on ${server.url} (base URL ${dir.baseUrl}, data ${dir.sandboxDir})`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => {
        console.log(`sandbox directory stopped (${signal})`);
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`sandbox directory: error while stopping: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigurationError) console.error(`configuration error: ${err.message}`);
  else console.error(`sandbox directory failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
