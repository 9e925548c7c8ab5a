/** The Keycloak realm set-up lives in testkit/keycloak-realm.ts (the infra CLI and the README recipe use it too). */
export * from '../../testkit/keycloak-realm.js';
