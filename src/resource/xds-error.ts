import { status } from '@grpc/grpc-js';

/** gRPC status codes, re-exported so that users need not import `@grpc/grpc-js` to read {@link XdsError.code}. */
export { status as Code };

/** How much of a client's text a status message or log line quotes: enough to recognize it. */
export const EXCERPT_LENGTH = 200;

/**
 * The part of a client's text that a status message or a log line may quote: `text` itself when short, else its
 * first `max` characters and how many were left out. Every message that echoes client input (type URLs, node
 * ids, nonces, NACK messages, paths) goes through this, so that a client sending megabytes gets a status of a
 * few hundred bytes: an HTTP/2 trailer that large would never reach it, and would stall its connection.
 *
 * @param text - what the client sent
 * @param max - most characters kept; default {@link EXCERPT_LENGTH}
 */
export function excerpt(text: string, max: number = EXCERPT_LENGTH): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * The one error class of this library. It carries the gRPC status code that a stream ends with when this
 * error reaches the server, so that a callback can reject a node with `PERMISSION_DENIED` by throwing
 * `new XdsError(Code.PERMISSION_DENIED, 'node x is not allowed')`.
 */
export class XdsError extends Error {
  /** The gRPC status code that describes this error. */
  readonly code: status;

  /**
   * @param code - the gRPC status code (see {@link Code})
   * @param message - what went wrong and, where it helps, what to do about it
   * @param options - the underlying cause, if any
   */
  constructor(code: status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XdsError';
    this.code = code;
  }

  /**
   * Turns anything thrown into an `XdsError`: an `XdsError` is returned as is, an object with a numeric gRPC
   * `code` keeps its code, anything else becomes `fallback` (default `INTERNAL`) with its message.
   */
  static from(reason: unknown, fallback: status = status.INTERNAL): XdsError {
    if (reason instanceof XdsError) return reason;
    if (reason instanceof Error) {
      const code = (reason as { code?: unknown }).code;
      const known = typeof code === 'number' && code >= 0 && code <= 16 ? (code as status) : fallback;
      return new XdsError(known, reason.message, { cause: reason });
    }
    return new XdsError(fallback, typeof reason === 'string' ? reason : String(reason), { cause: reason });
  }
}

/**
 * A resource that does not match its Envoy message type: an unknown field, a value of the wrong type, an enum
 * name that does not exist. It names the resource, the field path and what was expected.
 */
export class ResourceError extends XdsError {
  /** The type URL of the resource. */
  readonly typeUrl: string;
  /** The resource's name, when it could be read. */
  readonly resourceName: string | undefined;
  /** The path of the offending field inside the resource, like `load_assignment.endpoints[0].lb_endpoints`. */
  readonly path: string;

  /**
   * @param typeUrl - type URL of the resource
   * @param resourceName - the resource's name, if known
   * @param path - path of the offending field (empty for the whole resource)
   * @param problem - what is wrong and what was expected
   */
  constructor(typeUrl: string, resourceName: string | undefined, path: string, problem: string, options?: { cause?: unknown }) {
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    const who = resourceName === undefined ? typeName : `${typeName} "${resourceName}"`;
    super(status.INVALID_ARGUMENT, `invalid ${who}${path ? ` at ${path}` : ''}: ${problem}`, options);
    this.name = 'ResourceError';
    this.typeUrl = typeUrl;
    this.resourceName = resourceName;
    this.path = path;
  }
}
