import { createServer, type Server } from 'node:net';
import { FetchFailed, OutboundFetcher, type FetchResult } from '../../platform/http/outbound-fetcher.js';
import type { Runtime } from '../../platform/runtime/runtime.js';
import { startProvisioner } from '../../services/provisioner/service.js';
import { startRevocation, type RevocationOptions } from '../../services/revocation/service.js';
import { startVerifier } from '../../services/verifier/service.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';
export { settled } from '../support/wait.js';

/**
 * The real outbound fetcher (same allow-list, CAs and limits as the runtime's), recording every URL
 * asked for and able to simulate an outage of the sources whose URL matches `failing`.
 */
export class ObservedFetcher extends OutboundFetcher {
  readonly requests: string[] = [];
  failing: RegExp | null = null;

  constructor(rt: Runtime) {
    super({
      allowedHosts: rt.trust.allowedFetchHosts,
      ca: rt.trust.outboundCaPems,
      connectTimeoutMs: rt.config.fetch.connectTimeoutMs,
      totalTimeoutMs: rt.config.fetch.totalTimeoutMs,
      maxBytes: rt.config.fetch.maxBytes,
    });
  }

  override async fetch(url: string, accept?: string, ifNoneMatch?: string): Promise<FetchResult> {
    this.requests.push(url);
    if (this.failing?.test(url)) throw new FetchFailed(`${new URL(url).origin}: simulated outage (HTTP 503)`, 503);
    return super.fetch(url, accept, ifNoneMatch);
  }

  count(pattern: RegExp): number {
    return this.requests.filter((u) => pattern.test(u)).length;
  }
}

export interface RevocationPipeline {
  pipeline: TestPipeline;
  fetcher: ObservedFetcher;
  stop(): Promise<void>;
}

/** The whole pipeline with the revocation stage started on an observed fetcher (and options). */
export async function startRevocationPipeline(options: { env?: Record<string, string>; revocation?: RevocationOptions } = {}): Promise<RevocationPipeline> {
  const pipeline = await startTestPipeline({ stages: false, ...(options.env ? { env: options.env } : {}) });
  const fetcher = new ObservedFetcher(pipeline.rt);
  const stages = [await startVerifier(pipeline.rt), startRevocation(pipeline.rt, { fetcher, ...options.revocation }), await startProvisioner(pipeline.rt)];
  return {
    pipeline,
    fetcher,
    stop: async () => {
      await Promise.all(stages.map((s) => s.stop()));
      await pipeline.stop();
    },
  };
}

/** Submits with `Prefer: respond-async`; returns the request id. */
export async function submit(tpp: TestTpp, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await tpp.post(await tpp.sign(tpp.claims(overrides)), { prefer: 'respond-async' });
  if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${res.text}`);
  return res.json<{ request_id: string }>().request_id;
}


/** A TCP server that counts the connections made to it (and closes them). */
export async function connectionCounter(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
