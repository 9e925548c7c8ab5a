import type { ServiceDefinition } from '../../platform/runtime/bootstrap.js';
/**
 * Reference consumer for API gateways: keeps a client registry up to date from `dcr.client.v1`.
 * Copy it. The three things every consumer of the stream must do are here:
 *   1. validate each event against the v1 contract (skip, and log, what breaks it: never block);
 *   2. dedupe by event id (delivery is at least once);
 *   3. apply in order per client (ignore an event older than the stored one).
 */
import { TOPICS } from '../../core/domain/events.js';
import { isClientEvent, validateEvent } from '../../core/events/validate.js';
import type { DeliveredEvent } from '../../core/ports/events.js';
import type { Logger } from '../../platform/runtime/logger.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import type { ApplyResult, ClientRegistry } from '../../core/ports/client-registry.js';
import { openClientRegistry } from '../../platform/runtime/service-stores.js';

export const GATEWAY_SYNC_GROUP = 'gateway-sync';

export class GatewaySync {
  constructor(
    readonly registry: ClientRegistry,
    private readonly logger: Logger,
  ) {}

  async handle(event: DeliveredEvent): Promise<ApplyResult | 'invalid' | 'ignored'> {
    const checked = validateEvent(event);
    if (!checked.valid) {
      this.logger.warn({ eventId: event.id, type: event.type, errors: checked.errors }, 'skipping an event that breaks the v1 contract');
      return 'invalid';
    }
    if (!isClientEvent(checked.event)) return 'ignored';
    const result = await this.registry.apply(checked.event);
    this.logger.info({ eventId: event.id, type: event.type, clientId: event.subject, result }, 'client registry');
    return result;
  }
}

export interface RunningGatewaySync {
  sync: GatewaySync;
  registry: ClientRegistry;
  stop(): Promise<void>;
}

export async function startGatewaySync(rt: Runtime): Promise<RunningGatewaySync> {
  const registry = await openClientRegistry(rt.config);
  const sync = new GatewaySync(registry, rt.logger);
  // From the beginning: a new registry is built from every client event the topic still holds.
  const subscription = await rt.adapters.bus.subscribe({ groupId: GATEWAY_SYNC_GROUP, topics: [TOPICS.client], fromBeginning: true }, async (event) => {
    await sync.handle(event);
  });
  return {
    sync,
    registry,
    stop: async () => {
      await subscription.close();
      await registry.close();
    },
  };
}

/** The service as a process: services/gateway-sync/main.ts (production), sandbox/service/main.ts (sandbox). */
export const gatewaySyncService: ServiceDefinition = { name: 'gateway-sync', start: startGatewaySync };
