/**
 * The one logger interface of the library, used by the caches and the server alike (as go-control-plane's
 * `log.Logger`). Its shape is what pino and `console` share: one method per level, which the library always calls
 * with an object of fields and a message (`logger.warn({ nodeId, typeUrl }, 'NACK')`), as pino expects. A pino logger,
 * `console`, or an adapter over winston fits. The library logs ids, type URLs, versions, nonces and resource
 * names, never resource bodies: secrets travel in them.
 */
export interface Logger {
  /** Per-request detail: requests, responses, watches opened and answered. Verbose. */
  debug(fields: object, message?: string): void;
  /** Lifecycle: streams opened and closed, per-node state released. */
  info(fields: object, message?: string): void;
  /** Something a client did wrong, or a NACK. */
  warn(fields: object, message?: string): void;
  /** Something the application or a callback did wrong; the library carried on. */
  error(fields: object, message?: string): void;
}

const noop = (): void => {};

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
