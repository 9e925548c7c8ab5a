import { runService, type ServiceDefinition } from '../../platform/runtime/bootstrap.js';
import { gatewaySyncService } from '../../services/gateway-sync/service.js';
import { intakeService } from '../../services/intake/service.js';
import { notifierService } from '../../services/notifier/service.js';
import { opsService } from '../../services/ops/service.js';
import { provisionerService } from '../../services/provisioner/service.js';
import { revocationService } from '../../services/revocation/service.js';
import { verifierService } from '../../services/verifier/service.js';
import { sandboxTrust } from '../directory-sandbox/index.js';
import { sandboxAuthorizationServer } from '../sandbox-as/provisioning.js';

/**
 * A product service in sandbox mode, as its own process: `node dist/sandbox/service/main.js <name>`
 * (npm run start:distributed, docker-compose, the chaos cluster). It runs the same service
 * definition as `services/<name>/main.ts`, with the sandbox directory's trust and the sandbox AS's
 * adapter, and sandbox mode on unless trust is configured. The production entry points import none
 * of this, so they cannot run the sandbox.
 */
const SERVICES: readonly ServiceDefinition[] = [intakeService, verifierService, revocationService, provisionerService, opsService, gatewaySyncService, notifierService];

const name = process.argv[2];
const service = SERVICES.find((s) => s.name === name);
if (!service) {
  console.error(`usage: node dist/sandbox/service/main.js <service>, one of ${SERVICES.map((s) => s.name).join(', ')}${name ? ` (got '${name.slice(0, 40)}')` : ''}`);
  process.exit(2);
}
await runService(service, { sandboxTrust, sandboxAuthorizationServer });
