/** Child-process entry of the bulk loader: receives one BulkLoadJob over IPC, answers with its result. */
import { bulkLoad, type BulkLoadJob, type BulkLoadMessage } from './bulk-load.js';

const reply = (message: BulkLoadMessage) => process.send?.(message);

process.once('message', (raw) => {
  try {
    reply({ kind: 'result', result: bulkLoad(raw as BulkLoadJob) });
  } catch (error) {
    reply({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
