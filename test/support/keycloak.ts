/** The Keycloak realm set-up lives in scripts/infra/keycloak-realm.ts (the infra CLI and the README recipe use it too). */
export * from '../../scripts/infra/keycloak-realm.js';
