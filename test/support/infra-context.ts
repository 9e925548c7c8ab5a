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
}

declare module 'vitest' {
  export interface ProvidedContext {
    infra: { mongoUrl: string; redisUrl: string; kafkaBrokers: string } | null;
  }
}
