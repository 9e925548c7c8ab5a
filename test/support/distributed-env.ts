/** Moved to testkit/distributed-env.ts (the launcher uses it too). */
export * from '../../testkit/distributed-env.js';
