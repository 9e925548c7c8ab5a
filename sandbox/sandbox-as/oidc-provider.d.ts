/**
 * The slice of node-oidc-provider 8.x (untyped JavaScript) the sandbox AS uses. Configuration is
 * kept loosely typed: node-oidc-provider validates it itself at construction.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type AdapterPayload = Record<string, unknown>;

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  /** The Koa context node-oidc-provider hands to configuration helpers (only what is used here). */
  export interface ProviderContext {
    req: IncomingMessage;
  }

  export type Configuration = Record<string, unknown>;

  /** OAuth error classes node-oidc-provider turns into the right JSON error answer. */
  export const errors: {
    InvalidTarget: new (description?: string) => Error;
    InvalidClient: new (description?: string) => Error;
  };

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
