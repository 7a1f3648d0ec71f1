import type { Metadata, ServerDuplexStream } from '@grpc/grpc-js';
import type { DeltaResponse, Response } from '../cache/config-watcher.js';
import type { AckEvent, NackEvent } from '../cache/verdict.js';
import type { Node } from '../types/index.js';
import type { Logger } from '../logger.js';
import type { XdsDeltaDiscoveryRequest, XdsDiscoveryRequest } from './messages.js';

/** TLS details of a gRPC connection (grpc-js does not export the type by name). */
export type AuthContext = ReturnType<ServerDuplexStream<unknown, unknown>['getAuthContext']>;

/** What the server knows of a client when a stream or fetch starts: enough to authorize it. */
export interface RequestContext {
  /** The client's address, as gRPC reports it (`ipv4:127.0.0.1:5000`), or the HTTP remote address for REST. */
  readonly peer: string;
  /** The gRPC request metadata; for REST, the HTTP request headers in the same form. */
  readonly metadata: Metadata | undefined;
  /**
   * TLS details of the connection when the server uses TLS: `sslPeerCertificate` is the client certificate, present
   * only when the handshake verified it (gRPC and REST alike).
   */
  readonly authContext: AuthContext | undefined;
}

/**
 * Hooks into the server's work, as go-control-plane's `Callbacks` (same names in camelCase), plus `onAck` and
 * `onNack`. All are optional.
 *
 * The `…Open` and `…Request` hooks may throw or return a rejected promise: the stream (or fetch) then ends with
 * the status of the thrown `XdsError` (another error gives `INTERNAL`). That is how an application authorizes
 * nodes: `throw new XdsError(Code.PERMISSION_DENIED, 'node x is not allowed')`. While such a promise is pending
 * the stream reads no further request, so requests stay in order. The other hooks are notifications: what they
 * throw is logged and ignored. Hooks run on the event loop; keep them quick.
 */
export interface Callbacks {
  /** A state-of-the-world stream opened. `typeUrl` is '' for ADS. */
  onStreamOpen?(streamId: number, typeUrl: string, context: RequestContext): void | Promise<void>;
  /** A state-of-the-world stream closed; `node` is undefined if no request arrived. */
  onStreamClosed?(streamId: number, node: Node | undefined): void;
  /** A state-of-the-world request arrived (after the node and type checks, before it is acted on). */
  onStreamRequest?(streamId: number, request: XdsDiscoveryRequest): void | Promise<void>;
  /** A response is about to be written; `request` is the one that opened the watch it answers. */
  onStreamResponse?(streamId: number, request: XdsDiscoveryRequest, response: Response, nonce: string): void;
  /** A delta stream opened. `typeUrl` is '' for ADS. */
  onDeltaStreamOpen?(streamId: number, typeUrl: string, context: RequestContext): void | Promise<void>;
  /** A delta stream closed. */
  onDeltaStreamClosed?(streamId: number, node: Node | undefined): void;
  /** A delta request arrived. */
  onStreamDeltaRequest?(streamId: number, request: XdsDeltaDiscoveryRequest): void | Promise<void>;
  /** A delta response is about to be written. */
  onStreamDeltaResponse?(streamId: number, request: XdsDeltaDiscoveryRequest, response: DeltaResponse, nonce: string): void;
  /** A `Fetch…` call or REST request arrived. */
  onFetchRequest?(request: XdsDiscoveryRequest, context: RequestContext): void | Promise<void>;
  /** A fetch is answered; `response` is undefined when the client's version is current (REST 304). */
  onFetchResponse?(request: XdsDiscoveryRequest, response: Response | undefined): void;
  /** A client acknowledged a response (once per response; the cache is given the same event). */
  onAck?(event: AckEvent): void;
  /** A client rejected a response, with Envoy's error message. */
  onNack?(event: NackEvent): void;
}

type Hook = keyof Callbacks;
type HookArgs<K extends Hook> = Parameters<NonNullable<Callbacks[K]>>;

/**
 * Calls a notification hook (as a method of `callbacks`, so class-based callbacks keep their `this`); what it
 * throws is logged, never allowed to break the stream.
 */
export function notify<K extends Hook>(logger: Logger, callbacks: Callbacks, name: K, ...args: HookArgs<K>): void {
  if (callbacks[name] === undefined) return;
  try {
    (callbacks[name] as (...a: HookArgs<K>) => unknown).call(callbacks, ...args);
  } catch (error) {
    logger.error({ callback: name, err: error }, `xds callback ${name} threw; ignored`);
  }
}

/**
 * Calls a hook that may veto: returns undefined when it finished synchronously, or the promise to wait for.
 * Throws what the hook throws synchronously.
 */
export function consult<K extends Hook>(callbacks: Callbacks, name: K, ...args: HookArgs<K>): Promise<void> | undefined {
  if (callbacks[name] === undefined) return undefined;
  const result = (callbacks[name] as (...a: HookArgs<K>) => unknown).call(callbacks, ...args);
  return result !== undefined && typeof (result as Promise<void>).then === 'function' ? (result as Promise<void>) : undefined;
}
