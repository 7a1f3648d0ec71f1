/**
 * Where the caches write what they decide, as go-control-plane's `log.Logger`. `console` fits; so do pino and
 * winston loggers. Messages are built only when a method exists, so an absent level costs nothing.
 */
export interface Logger {
  /** Per-watch decisions (opened, answered, parked). Verbose. */
  debug?(message: string): void;
  /** Notable events (a node's state released). */
  info?(message: string): void;
  /** Something the application should look at (a client NACKed). */
  warn?(message: string): void;
  /** A failure the cache recovered from. */
  error?(message: string): void;
}

/** The logger used when none is given: says nothing. */
export const silentLogger: Logger = {};
