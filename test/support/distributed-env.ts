/** Moved to scripts/infra/distributed-env.ts (the launcher uses it too). */
export * from '../../scripts/infra/distributed-env.js';
