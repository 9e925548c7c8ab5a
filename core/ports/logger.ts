/** The structured logger the core needs (pino's shape: an object of fields, then a message). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
