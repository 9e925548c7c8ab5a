import type { Config } from '../config/schema.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { OutboundFetcher } from '../http/outbound-fetcher.js';
import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import type { EventBus } from '../../core/ports/events.js';
import type { Store } from '../../core/ports/store.js';
import { EventsBarrierAuthorizationServer } from '../adapters/authorization-server/events.js';
import { KeycloakAuthorizationServer } from '../adapters/authorization-server/keycloak.js';
import { StoreOnlyAuthorizationServer } from '../adapters/authorization-server/store-only.js';
import type { Logger } from './logger.js';

/** What an authorization-server adapter may use, all built from the validated configuration. */
export interface AuthorizationServerDeps {
  config: Config;
  fetcher: OutboundFetcher;
  logger: Logger;
  store: Store;
  bus: EventBus;
}

/**
 * Builds the adapter `DCR_AS_PROVISIONING` names. The sandbox adapter belongs to the sandbox AS
 * (sandbox/sandbox-as) and is handed in by the sandbox entry points, so production code never
 * imports it.
 */
export type SandboxAuthorizationServerFactory = (deps: AuthorizationServerDeps) => Promise<AuthorizationServerPort>;

export async function openAuthorizationServer(deps: AuthorizationServerDeps, factories: { sandbox?: SandboxAuthorizationServerFactory } = {}): Promise<AuthorizationServerPort> {
  const mode = deps.config.as.provisioning;
  switch (mode) {
    case 'store':
      return new StoreOnlyAuthorizationServer();
    case 'sandbox':
      if (!factories.sandbox) throw new ConfigurationError('DCR_AS_PROVISIONING', 'sandbox provisioning is available only in the sandbox entry points (npm start, the sandbox services)');
      return factories.sandbox(deps);
    case 'keycloak': {
      const { url, realm, clientId, clientSecret } = deps.config.as.keycloak;
      // loadConfig requires all four with DCR_AS_PROVISIONING=keycloak; this guards a hand-built config
      if (!url || !realm || !clientId || !clientSecret) throw new ConfigurationError('DCR_KEYCLOAK_URL', 'DCR_KEYCLOAK_URL, DCR_KEYCLOAK_REALM, DCR_KEYCLOAK_CLIENT_ID and DCR_KEYCLOAK_CLIENT_SECRET are required with DCR_AS_PROVISIONING=keycloak');
      // `aud` of the clients' tokens: what the management endpoints accept (DCR_AS_TOKEN_AUDIENCE's first, else the public URL)
      return new KeycloakAuthorizationServer({ url, realm, clientId, clientSecret, audience: deps.config.as.tokenAudiences?.[0] ?? deps.config.publicUrl, fetcher: deps.fetcher, logger: deps.logger });
    }
    case 'events':
      return new EventsBarrierAuthorizationServer({ store: deps.store, bus: deps.bus, groups: deps.config.as.eventGroups });
  }
}
