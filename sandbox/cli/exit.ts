/**
 * The CLI's exit codes (README "The CLI: exit codes"). Scripts branch on them, so they are stable:
 * a new outcome gets a new number, an existing number never changes meaning.
 */
export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** An unexpected error (a bug, or an answer the CLI cannot read). */
  error: 1,
  /** Bad usage: an unknown option or command, a bad option value, a missing argument, an unknown sandbox TPP. */
  usage: 2,
  /** The pipeline (or the AS, or the admin API) answered no: a 4xx, a rejected registration, an unknown client. */
  rejected: 3,
  /** The registration ended `failed` (or a replay left some failed): the pipeline's side, replayable. */
  failed: 4,
  /** Nothing answered: the pipeline (or the AS, the admin API) is not running or not reachable; or it answered 503. */
  unreachable: 5,
  /** Still not final when --timeout ran out (the pipeline carries on; poll later with `status`). */
  timeout: 6,
  /** No usable configuration: no data directory, no admin token, an invalid DCR_* variable. */
  config: 7,
} as const;

export type ExitName = keyof typeof EXIT;

/** A failure with the exit code it maps to; main prints `dcr-pipeline: <message>` and exits with the code. */
export class CliError extends Error {
  constructor(
    readonly exit: ExitName,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Runs `call`; a connection-level failure (refused, reset, DNS, timed out) becomes an `unreachable` CliError naming `what`. */
export async function reach<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = errorCode(error);
    if (code) throw new CliError('unreachable', `${what} is not reachable (${code}); is the pipeline running (npm start)?`);
    if (error instanceof Error && /timed out/.test(error.message)) throw new CliError('unreachable', `${what} did not answer (${error.message})`);
    throw error;
  }
}

/** The exit code for an HTTP answer: 2xx ok, 4xx rejected, else error. */
export function exitForStatus(status: number): ExitName {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'rejected';
  if (status === 503) return 'unreachable';
  return 'error';
}

export function setExit(name: ExitName): void {
  if (name !== 'ok') process.exitCode = EXIT[name];
}
