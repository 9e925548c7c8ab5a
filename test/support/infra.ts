/** The infrastructure starters live in scripts/infra/servers.ts (the launcher and the bench use them too). */
export * from '../../scripts/infra/servers.js';
