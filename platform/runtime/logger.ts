import { pino, type Logger } from 'pino';

/** Paths never logged: tokens, keys, bodies that may carry them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["client-cert"]',
  'registration_access_token',
  '*.registration_access_token',
  'sealedToken',
  '*.sealedToken',
  'tokenHash',
  '*.tokenHash',
  'body',
  '*.body',
  'token',
  '*.token',
  'privateKey',
  '*.privateKey',
  'd',
  '*.d',
];

/** `json`: one JSON object a line (services, pipes, log shippers); `pretty`: pino-pretty's one human line per record. */
export type LogFormat = 'json' | 'pretty';

/**
 * The format when DCR_LOG_FORMAT is unset: JSON, except for a person at a terminal (`npm start`
 * with stdout a TTY). Services (services/NAME/main.ts) always default to JSON.
 */
export function defaultLogFormat(configured: LogFormat | undefined, interactive: boolean, stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return configured ?? (interactive && stdout.isTTY === true ? 'pretty' : 'json');
}

/**
 * The pino logger. `pretty` runs pino's own transport (pino-pretty, in a worker thread) with
 * colour unless NO_COLOR is set; redaction happens before either format sees a record.
 */
export function createLogger(service: string, level: string, format: LogFormat = 'json'): Logger {
  const options = { name: service, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service } };
  if (format === 'json') return pino(options);
  const colour = process.env.NO_COLOR === undefined || process.env.NO_COLOR === '';
  return pino({
    ...options,
    transport: {
      target: 'pino-pretty',
      options: { destination: 1, colorize: colour, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service,name', singleLine: true },
    },
  });
}

export type { Logger };
