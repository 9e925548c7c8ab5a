/**
 * Child-process entry of the `scale` scenario (bench/scenarios/scale.ts): hosts the embedded pipeline
 * (bench/pipeline.ts: intake, stages, relay on SQLite in a fresh temporary data directory; the sandbox
 * directory as a process of its own), so the process sampled for "resident memory of the service"
 * holds the pipeline and nothing of the benchmark (no prepared requests, no bulk loader).
 *
 * Protocol (IPC): the parent sends `start`; this process starts the pipeline, creates the bench TPPs,
 * registers one client per TPP through the pipeline (the templates the bulk loader clones) and answers
 * `ready` with what the parent needs to drive it (origin, TPP credentials and identities, the
 * templates, the data directory, the sandbox's pid); it runs until the parent sends `stop`, then
 * stops the pipeline (removing the data directory) and exits.
 */
import { httpsRequest } from '../sandbox/tpp-client/https-client.js';
import type { TppCredentials } from '../sandbox/tpp-client/registration-request.js';
import { createTpps, signedRequests } from './fixtures.js';
import type { LoadIdentity } from './load-generator.js';
import { startEmbeddedPipeline, type EmbeddedPipeline } from './pipeline.js';

export type ScaleWorkerCommand = { kind: 'start'; tppCount: number; extraEnv?: Record<string, string> } | { kind: 'stop' };

export interface ScaleWorkerReady {
  origin: string;
  audience: string;
  dataDir: string;
  sandboxPid: number;
  credentials: TppCredentials[];
  identities: LoadIdentity[];
  /** one client per TPP, registered through the pipeline */
  templates: Array<{ clientId: string; identity: number }>;
}

export type ScaleWorkerMessage =
  | { kind: 'log'; line: string }
  | { kind: 'started'; dataDir: string; sandboxPid: number }
  | { kind: 'ready'; ready: ScaleWorkerReady }
  | { kind: 'stopped' }
  | { kind: 'error'; message: string };

const reply = (message: ScaleWorkerMessage) => process.send?.(message);
const log = (line: string) => reply({ kind: 'log', line });
let pipeline: EmbeddedPipeline | undefined;

async function start(command: Extract<ScaleWorkerCommand, { kind: 'start' }>): Promise<ScaleWorkerReady> {
  pipeline = await startEmbeddedPipeline(command.extraEnv);
  reply({ kind: 'started', dataDir: pipeline.dataDir, sandboxPid: pipeline.directoryProcess.pid });
  const tpps = await createTpps(pipeline.directory, command.tppCount, pipeline.audience, 'scale');
  const templates: ScaleWorkerReady['templates'] = [];
  for (const r of await signedRequests(tpps, command.tppCount)) {
    const res = await httpsRequest(`${pipeline.origin}/register`, {
      method: 'POST',
      body: r.body,
      headers: { 'content-type': 'application/jwt' },
      identity: tpps.identities[r.identity],
    });
    const clientId = res.status === 201 ? res.json<{ client_id?: unknown }>().client_id : undefined;
    if (typeof clientId !== 'string') throw new Error(`template registration: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    templates.push({ clientId, identity: r.identity });
  }
  log(`  pipeline pid ${process.pid}: ${templates.length} template clients registered through the pipeline`);
  return {
    origin: pipeline.origin,
    audience: pipeline.audience,
    dataDir: pipeline.dataDir,
    sandboxPid: pipeline.directoryProcess.pid,
    credentials: tpps.credentials,
    identities: tpps.identities,
    templates,
  };
}

process.on('message', (raw) => {
  const command = raw as ScaleWorkerCommand;
  if (command.kind === 'start') {
    start(command)
      .then((ready) => reply({ kind: 'ready', ready }))
      .catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
  } else if (command.kind === 'stop') {
    (pipeline ? pipeline.stop() : Promise.resolve())
      .then(() => reply({ kind: 'stopped' }))
      .catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }))
      .finally(() => {
        process.disconnect?.();
        setTimeout(() => process.exit(0), 100).unref();
      });
  }
});
