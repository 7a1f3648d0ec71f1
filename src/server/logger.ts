/**
 * The logger the server writes to. Its shape is what `pino` and `console` share: one method per level, called
 * as `logger.info(fields, message)`. The server logs stream ids, node ids, type URLs, versions, nonces and
 * resource names, never resource bodies: secrets travel in them.
 */
export interface Logger {
  /** Per-request detail: requests, responses, stale nonces. */
  debug(fields: object, message?: string): void;
  /** Stream lifecycle: opened, closed, ended with a status. */
  info(fields: object, message?: string): void;
  /** Something a client did wrong, or a NACK. */
  warn(fields: object, message?: string): void;
  /** Something the server or a callback did wrong. */
  error(fields: object, message?: string): void;
}

const noop = (): void => {};

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
