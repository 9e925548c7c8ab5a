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

export function createLogger(service: string, level: string): Logger {
  return pino({ name: service, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service } });
}

export type { Logger };
