/** Child-process entry of the load generator: receives one LoadJob over IPC, answers with its result. */
import { runLoad, type LoadJob, type WorkerMessage } from './load-generator.js';

const reply = (message: WorkerMessage) => process.send?.(message);

process.once('message', (raw) => {
  const job = raw as LoadJob;
  runLoad(job, (line) => reply({ kind: 'progress', line }))
    .then((result) => reply({ kind: 'result', result }))
    .catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
