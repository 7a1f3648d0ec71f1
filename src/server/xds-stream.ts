import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { CancelWatch, ConfigWatcher } from '../cache/config-watcher.js';
import { assertResourceTypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import type { Node } from '../types/index.js';
import { authorizeNode, certificateOfAuthContext } from './authorize.js';
import { consult, notify } from './callbacks.js';
import type { Callbacks, RequestContext } from './callbacks.js';
import { lazyNode } from './lazy-node.js';
import { readNodeId } from './messages.js';
import type { AckEvent, ErrorDetail, NackEvent } from '../cache/verdict.js';
import type { HeldVersions } from './held-versions.js';
import type { StreamLease, StreamLimits } from './limits.js';
import type { ResolvedOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import { ResponseQueue } from './response-queue.js';

/** Longest status message sent, in characters: a longer one (a callback's, quoting a client) is cut to this. */
export const MAX_STATUS_LENGTH = 1024;

/**
 * The error as a status goes out: its message cut to {@link MAX_STATUS_LENGTH}. Messages of this library quote
 * client text through `excerpt` already; this also bounds what callbacks and caches throw. A status is an HTTP/2
 * trailer: one of megabytes never reaches the client and stalls its connection.
 */
export function boundedStatus(error: XdsError): XdsError {
  if (error.message.length <= MAX_STATUS_LENGTH) return error;
  return new XdsError(error.code, excerpt(error.message, MAX_STATUS_LENGTH), { cause: error });
}

/** Reads a request's node (see {@link lazyNode}), or ends the stream with `INVALID_ARGUMENT` saying why it cannot. */
function readNode(bytes: Uint8Array): Node {
  try {
    return lazyNode(bytes);
  } catch (error) {
    throw new XdsError(Code.INVALID_ARGUMENT, `cannot decode the node of the request: ${(error as Error).message}`);
  }
}

/** What every stream of a server shares. */
export interface StreamEnvironment {
  /** Where answers come from. */
  readonly cache: ConfigWatcher;
  /** The server's options. */
  readonly options: ResolvedOptions;
  /** Admits streams within the server's limits. */
  readonly limits: StreamLimits;
  /** Reads delta requests' `initial_resource_versions`, sharing the maps of equal ones. */
  readonly heldVersions: HeldVersions;
  /** Gives stream ids. */
  nextStreamId(): number;
  /** Called once a stream has released everything. */
  released(stream: XdsStream): void;
}

/** The server's side of one open stream, as the server's registry sees it. */
export interface XdsStream {
  /** The stream's id (also given to callbacks). */
  readonly id: number;
  /** Watches open in the cache for this stream. */
  readonly openWatches: number;
  /** Responses waiting for a slow reader. */
  readonly pendingResponses: number;
  /** Ends the stream with a status (the server's shutdown uses `UNAVAILABLE`). */
  end(error: XdsError): void;
}

/** The stream's gRPC call: requests come in decoded (or as a decode failure), responses go out as bytes. */
export type XdsCall = ServerDuplexStream<unknown, Buffer>;

/** What a stream keeps of the watch of one type. */
export interface WatchSlot {
  /** Cancels the open watch; undefined when none is open (or it already answered). */
  cancel: CancelWatch | undefined;
  /** Bumped with each new watch, so that an answer to a replaced watch is ignored. */
  token: number;
  /** True while a watch is open and has not answered. */
  watching: boolean;
}

/**
 * What SotW and delta streams have in common: the call's lifecycle, the node taken from the first request, the
 * type URL checks, the request rate limit, the ordering of callbacks and requests, and releasing everything
 * when the stream ends however it ends.
 */
export abstract class BaseStream<R extends { readonly typeUrl: ResourceTypeUrl }, S extends WatchSlot> implements XdsStream {
  readonly id: number;
  protected readonly env: StreamEnvironment;
  protected readonly call: XdsCall;
  /** The type a per-type service serves; undefined on ADS. */
  protected readonly fixedType: ResourceTypeUrl | undefined;
  protected readonly queue: ResponseQueue<R>;
  /** Per-type state: the subscription, the watch, the last nonce sent. */
  protected readonly types = new Map<ResourceTypeUrl, S>();
  protected node: Node | undefined;
  #nodeId: string | undefined;
  /** The node id as logs quote it (cut short: it is client text). */
  #nodeLabel: string | undefined;
  #nonce = 0;
  #closed = false;
  readonly #limiter: RateLimiter | undefined;
  /** What the stream counts against the server's limits. */
  #lease: StreamLease | undefined;
  /** Who the client is, as the call says (address, metadata, TLS). */
  #context: RequestContext | undefined;

  constructor(env: StreamEnvironment, call: XdsCall, fixedType: ResourceTypeUrl | undefined) {
    this.env = env;
    this.call = call;
    this.fixedType = fixedType;
    this.id = env.nextStreamId();
    const limit = env.options.requestRateLimit;
    this.#limiter = limit === false ? undefined : new RateLimiter(limit);
    // Ordering matters only when several types share the stream.
    this.queue = new ResponseQueue<R>((response) => this.write(response), env.options.orderedAds && fixedType === undefined);
  }

  /** True once the stream ended or was told to end. */
  get closed(): boolean {
    return this.#closed;
  }

  get openWatches(): number {
    let count = 0;
    for (const state of this.types.values()) if (state.watching) count++;
    return count;
  }

  get pendingResponses(): number {
    return this.queue.size;
  }

  /** 'sotw' or 'delta', for logs. */
  protected abstract get kind(): 'sotw' | 'delta';

  /** The open callback of this kind of stream. */
  protected abstract open(context: RequestContext): Promise<void> | undefined;

  /** Acts on one request (decoded, or a decode failure). Returns a promise when a callback made it wait. */
  protected abstract handle(raw: unknown): Promise<void> | undefined;

  /** Sends one response; false when the transport is full. */
  protected abstract write(response: R): boolean;

  /** Cancels every watch and forgets per-type state. */
  protected releaseWatches(): void {
    for (const [typeUrl, state] of this.types) this.cancelWatch(typeUrl, state);
    this.types.clear();
  }

  /**
   * Decides what a request says of this stream's last response of a type, once per response: a NACK when it
   * carries `error_detail` (logged as a warning, with Envoy's message), an ACK otherwise. Tells the callbacks,
   * and returns the verdict for the watch request, where the cache records it. Returns nothing for a request
   * that answers no response, or one already answered (a subscription change repeats the last nonce).
   *
   * @param versions - the version the response carried and the version the client still runs ('' in delta,
   *   whose requests name none)
   */
  protected judge(
    node: Node,
    typeUrl: ResourceTypeUrl,
    nonce: string,
    errorDetail: ErrorDetail | undefined,
    versions: { sent: string; current: string },
  ): { ack?: AckEvent; nack?: NackEvent } {
    const delta = this.kind === 'delta';
    const nodeId = node.id ?? '';
    if (errorDetail !== undefined) {
      this.env.options.logger.warn(
        { streamId: this.id, nodeId: this.#nodeLabel, typeUrl, rejectedVersion: versions.sent, nonce, error: excerpt(errorDetail.message) },
        delta ? 'delta NACK' : 'NACK',
      );
      const nack: NackEvent = { streamId: this.id, node, nodeId, typeUrl, rejectedVersion: versions.sent, currentVersion: versions.current, nonce, errorDetail, delta };
      this.notify('onNack', nack);
      return { nack };
    }
    this.env.options.logger.debug({ streamId: this.id, typeUrl, version: excerpt(versions.sent), nonce }, delta ? 'delta ACK' : 'ACK');
    const ack: AckEvent = { streamId: this.id, node, nodeId, typeUrl, version: versions.sent, nonce, delta };
    this.notify('onAck', ack);
    return { ack };
  }

  /**
   * Runs `process` once the request callback allows it: at once when there is no callback or it returned
   * nothing, after its promise otherwise (and not at all if the stream ended meanwhile). A rejected promise ends
   * the stream with its status, through the caller.
   */
  protected afterCallback(waiting: Promise<void> | undefined, process: () => void): Promise<void> | undefined {
    if (waiting === undefined) {
      process();
      return undefined;
    }
    return waiting.then(() => {
      if (!this.closed) process();
    });
  }

  /** Tells the closed callback of this kind of stream. */
  protected abstract notifyClosed(node: Node | undefined): void;

  /**
   * Opens the watch of one type through `create` (which calls the cache), replacing nothing: call
   * {@link BaseStream.cancelWatch} first. The cache may answer before `create` returns; an answer to a watch that
   * was replaced since, or that arrives after the stream ended, is dropped.
   */
  protected openWatch(slot: WatchSlot, create: (respond: (response: R) => void) => CancelWatch): void {
    const token = slot.token;
    let answered = false;
    slot.watching = true;
    let cancel: CancelWatch;
    try {
      cancel = create((response) => {
        if (slot.token !== token || this.closed) return;
        answered = true;
        slot.watching = false;
        slot.cancel = undefined;
        this.queue.push(response);
      });
    } catch (error) {
      slot.watching = false;
      throw error;
    }
    if (!answered) slot.cancel = cancel;
  }

  /** Cancels the watch of one type and drops its pending response: it was computed for the old subscription. */
  protected cancelWatch(typeUrl: ResourceTypeUrl, slot: WatchSlot): void {
    slot.token++;
    slot.watching = false;
    const cancel = slot.cancel;
    slot.cancel = undefined;
    cancel?.();
    this.queue.drop(typeUrl);
  }

  /** Starts serving the call, admitted by the server's limits as `lease`. */
  start(lease: StreamLease): void {
    this.#lease = lease;
    const { call } = this;
    call.on('cancelled', () => this.#release('cancelled by the client'));
    call.on('error', () => this.#release('ended with an error'));
    call.on('close', () => this.#release('closed'));
    // The client closed its side: we end ours with OK, as go-control-plane does.
    call.on('end', () => {
      if (this.#closed) return;
      this.#closed = true;
      call.end();
      this.#release('ended by the client');
    });
    call.on('drain', () => this.queue.drained());
    this.env.options.logger.info({ streamId: this.id, kind: this.kind, typeUrl: this.fixedType ?? 'ADS', peer: call.getPeer() }, 'xds stream opened');
    let opening: Promise<void> | undefined;
    try {
      this.#context = { peer: call.getPeer(), metadata: call.metadata, authContext: call.getAuthContext() };
      opening = this.open(this.#context);
    } catch (error) {
      this.end(XdsError.from(error));
      return;
    }
    if (opening === undefined) this.#listen();
    else opening.then(() => this.#listen(), (error: unknown) => this.end(XdsError.from(error)));
  }

  #listen(): void {
    if (this.#closed) return;
    this.call.on('data', (raw: unknown) => this.#receive(raw));
  }

  #receive(raw: unknown): void {
    if (this.#closed) return;
    if (this.#limiter !== undefined && !this.#limiter.take()) {
      const limit = this.env.options.requestRateLimit as { perSecond: number; burst: number };
      this.end(new XdsError(Code.RESOURCE_EXHAUSTED, `too many requests on this stream: the limit is ${limit.perSecond} per second (bursts of ${limit.burst}); reconnect and send requests only to ACK, NACK or change subscriptions`));
      return;
    }
    let waiting: Promise<void> | undefined;
    try {
      waiting = this.handle(raw);
    } catch (error) {
      this.end(XdsError.from(error));
      return;
    }
    if (waiting === undefined) return;
    // A callback is deciding: read nothing more until it has, so requests are acted on in order.
    this.call.pause();
    waiting.then(
      () => {
        if (!this.#closed) this.call.resume();
      },
      (error: unknown) => this.end(XdsError.from(error)),
    );
  }

  /**
   * Runs `next` with the stream's node. The first request's node is decoded and taken once `authorize` allows it
   * (and counted against `maxStreamsPerNode`); only then does the cache hear of it. The node served is the one
   * the authorizer chose, or the client's. Later requests may omit the node but may not change its id: Envoy
   * repeats its node (tens of kilobytes) on every request, so a later node is not decoded, only its id is read.
   * (Comparing bytes with the first node's would not do: Envoy writes the maps inside its node in hash order, so
   * the same node comes in different bytes.) Returns a promise while the authorizer decides, during which the
   * stream reads nothing more.
   */
  protected withNode(bytes: Uint8Array | undefined, typeUrl: ResourceTypeUrl, next: (node: Node) => Promise<void> | undefined): Promise<void> | undefined {
    if (this.node !== undefined) {
      if (bytes !== undefined) {
        let id: string;
        try {
          id = readNodeId(bytes);
        } catch (error) {
          throw new XdsError(Code.INVALID_ARGUMENT, `cannot decode the node of the request: ${excerpt((error as Error).message)}`);
        }
        if (id !== this.#nodeId) {
          throw new XdsError(
            Code.INVALID_ARGUMENT,
            `node id changed on this stream from "${this.#nodeLabel}" to "${excerpt(id)}"; a stream serves one node: open a new stream for another`,
          );
        }
      }
      return next(this.node);
    }
    const claimed = bytes === undefined ? {} : readNode(bytes);
    const context = this.#context as RequestContext;
    const served = authorizeNode(this.env.options.authorize, {
      ...context,
      kind: this.kind,
      typeUrl,
      node: claimed,
      certificate: certificateOfAuthContext(context.authContext),
    });
    const accept = (node: Node): Promise<void> | undefined => {
      if (this.closed) return undefined;
      if (this.#lease !== undefined) this.env.limits.bindNode(this.#lease, node.id ?? '');
      this.node = node;
      this.#nodeId = claimed.id ?? '';
      this.#nodeLabel = excerpt(this.#nodeId);
      this.env.cache.streamOpened?.(node);
      return next(node);
    };
    return served instanceof Promise ? served.then(accept) : accept(served);
  }

  /** The type a request is about: inferred on per-type services, required and known on ADS. */
  protected resolveType(typeUrl: string): ResourceTypeUrl {
    if (this.fixedType !== undefined) {
      if (typeUrl === '' || typeUrl === this.fixedType) return this.fixedType;
      throw new XdsError(Code.INVALID_ARGUMENT, `type URL "${excerpt(typeUrl)}" does not match this service, which serves "${this.fixedType}"; send it on the aggregated (ADS) service or on its own service`);
    }
    if (typeUrl === '') throw new XdsError(Code.INVALID_ARGUMENT, 'type_url is required on an aggregated (ADS) stream');
    return assertResourceTypeUrl(typeUrl);
  }

  /** Ends the stream if a request names more resources than allowed. */
  protected checkNames(count: number, what: string): void {
    const max = this.env.options.maxResourceNames;
    if (count > max) {
      throw new XdsError(Code.RESOURCE_EXHAUSTED, `${what}: ${count} resource names, more than the server's limit of ${max} (option maxResourceNames)`);
    }
  }

  /** The next nonce of this stream. */
  protected nextNonce(): string {
    return (++this.#nonce).toString();
  }

  /** Runs a hook that may veto (see {@link consult}). */
  protected consult<K extends keyof Callbacks>(name: K, ...args: Parameters<NonNullable<Callbacks[K]>>): Promise<void> | undefined {
    return consult(this.env.options.callbacks, name, ...args);
  }

  /** Runs a notification hook. */
  protected notify<K extends keyof Callbacks>(name: K, ...args: Parameters<NonNullable<Callbacks[K]>>): void {
    notify(this.env.options.logger, this.env.options.callbacks, name, ...args);
  }

  end(error: XdsError): void {
    if (this.#closed) return;
    this.#closed = true;
    const level = error.code === Code.UNAVAILABLE ? 'info' : 'warn';
    const status = boundedStatus(error);
    this.env.options.logger[level]({ streamId: this.id, nodeId: this.#nodeLabel, code: Code[error.code], reason: status.message }, 'xds stream ended by the server');
    this.#release('ended by the server');
    // grpc-js answers an 'error' event on a server stream by ending it with the error's code and message.
    this.call.emit('error', status);
  }

  #released = false;

  #release(reason: string): void {
    if (this.#released) return;
    this.#released = true;
    this.#closed = true;
    this.queue.close();
    this.releaseWatches();
    if (this.#lease !== undefined) this.env.limits.release(this.#lease);
    this.env.options.logger.info({ streamId: this.id, nodeId: this.#nodeLabel, reason }, 'xds stream closed');
    this.notifyClosed(this.node);
    if (this.node !== undefined) this.env.cache.streamClosed?.(this.node);
    this.env.released(this);
  }
}
