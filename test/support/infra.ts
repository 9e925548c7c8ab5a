/** The infrastructure starters live in testkit/servers.ts (the launcher and the bench use them too). */
export * from '../../testkit/servers.js';
