/**
 * What test/setup/global-infra.ts hands to the tests through vitest's provide/inject:
 *
 *   import { inject } from 'vitest';
 *   const infra = inject('infra');           // null when DCR_TEST_INFRA=off (or the start failed outside CI)
 *   describe.skipIf(!infra)('…', () => { … infra!.mongoUrl … });
 */
export interface ProvidedInfra {
  /** mongodb://127.0.0.1:<port> (mongo-java-server, in-memory backend; wire version 8: use the mongodb driver 6.x) */
  mongoUrl: string;
  /** redis://127.0.0.1:<port> (a private redis-server, no persistence) */
  redisUrl: string;
  /** 127.0.0.1:<port> (a single Kafka broker in KRaft mode; auto-create topics on, 3 partitions by default) */
  kafkaBrokers: string;
  /** Keycloak with realm `obie` set up (test/support/keycloak.ts); null with DCR_TEST_KEYCLOAK=off */
  keycloak: ProvidedKeycloak | null;
}

/** The run's Keycloak (test/support/infra.ts `keycloak`) and its realm for the pipeline. */
export interface ProvidedKeycloak {
  /** https://localhost:<port> (DCR_KEYCLOAK_URL) */
  url: string;
  adminUsername: string;
  adminPassword: string;
  /** the test CA Keycloak's server certificate comes from and whose client certificates it trusts */
  caCertFile: string;
  caKeyFile: string;
  realm: string;
  /** DCR_AS_ISSUER */
  issuer: string;
  /** DCR_AS_JWKS_URL */
  jwksUrl: string;
  /** the provisioner's service account (DCR_KEYCLOAK_CLIENT_ID / DCR_KEYCLOAK_CLIENT_SECRET) */
  clientId: string;
  clientSecret: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    infra: { mongoUrl: string; redisUrl: string; kafkaBrokers: string; keycloak: ProvidedKeycloak | null } | null;
  }
}
