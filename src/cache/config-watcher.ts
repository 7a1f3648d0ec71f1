/**
 * The seam between the server and the caches, as go-control-plane's `cache.ConfigWatcher`: the server handles
 * streams (nonces, subscriptions, ACK and NACK bookkeeping, writing), the cache decides what to send and when.
 *
 * A watch is one-shot: the cache calls `respond` at most once, either synchronously inside `createWatch` (when it
 * can answer at once) or later (when a new snapshot or resource arrives), and never after the watch was
 * cancelled. The server opens a new watch with each request it receives, cancelling the previous watch of that
 * type on that stream.
 */
import type { Node } from '../types/index.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { EncodedResource } from './encoded-resource.js';
import type { AckEvent, ErrorDetail, NackEvent } from './verdict.js';

export type { ErrorDetail } from './verdict.js';

/** What a state-of-the-world request asks for, after the server has applied the stream's subscription rules. */
export interface WatchRequest {
  /** The node of the stream (from its first request). */
  node: Node;
  /** The resource type requested. */
  typeUrl: ResourceTypeUrl;
  /**
   * The resource names the client is subscribed to, as the server computed them (without `*`). Empty with
   * `wildcard` false means the client wants nothing of this type right now.
   */
  resourceNames: readonly string[];
  /** True for a wildcard subscription: the legacy form (first request with no names) or an explicit `*`. */
  wildcard: boolean;
  /** `version_info` of the request: the last version the client accepted ('' at first). */
  versionInfo: string;
  /** `response_nonce` of the request ('' for the first request of this type on the stream). */
  responseNonce: string;
  /** Set when this request is a NACK. */
  errorDetail?: ErrorDetail | undefined;
  /**
   * For a NACK: the version of the response it rejects (the server knows it from the nonce). The cache must not
   * answer with this version again; it waits for a different one.
   */
  rejectedVersion?: string | undefined;
  /**
   * Set when this request is the client's first answer to the stream's last response of this type and accepts
   * it, as the server judged from its nonces (once per response). The cache records it in its status.
   */
  ack?: AckEvent | undefined;
  /** Set when this request is the client's first answer to the last response and rejects it (see `ack`). */
  nack?: NackEvent | undefined;
  /**
   * The names of the resources that the last response of this type on this stream carried (what the client holds
   * at `versionInfo`): the response's `returnedNames()`, which the server keeps and hands back unchanged. With it, the cache answers a request that subscribes to a
   * name the client lacks while the version has not changed (Envoy adding an EDS cluster, say). Without it, the
   * cache cannot tell such a request from a repeated ACK and answers only first requests and version changes.
   */
  knownNames?: ReadonlySet<string> | undefined;
}

/** What a delta request asks for, after the server has applied the stream's subscription rules. */
export interface DeltaWatchRequest {
  /** The node of the stream (from its first request). */
  node: Node;
  /** The resource type requested. */
  typeUrl: ResourceTypeUrl;
  /** Names subscribed so far on this stream for this type (without `*`). */
  subscribed: ReadonlySet<string>;
  /** True when the client is subscribed to the wildcard (legacy or explicit `*`). */
  wildcard: boolean;
  /**
   * The version (content hash) of each resource the client holds: from `initial_resource_versions` on a new
   * stream, then as the server recorded what it sent. Resources the client holds at the same version are not
   * sent again. Read it, never change it: streams whose clients hold the same versions share one map.
   */
  known: ReadonlyMap<string, string>;
  /** Names that became newly subscribed with this request (they must be answered even if unchanged). */
  newlySubscribed: readonly string[];
  /** `response_nonce` of the request ('' for the first request of this type on the stream). */
  responseNonce: string;
  /** Set when this request is a NACK. */
  errorDetail?: ErrorDetail | undefined;
  /**
   * Set when this request is the client's first answer to the stream's last response of this type and accepts
   * it, as the server judged from its nonces (once per response). The cache records it in its status.
   */
  ack?: AckEvent | undefined;
  /** Set when this request is the client's first answer to the last response and rejects it (see `ack`). */
  nack?: NackEvent | undefined;
  /**
   * The `returnedState` of the last response of this type written on this stream, which the server keeps and
   * hands back unchanged, but only while the subscription is as it was when the watch that made that response
   * opened: no name subscribed or unsubscribed since, no held version forgotten. The client then holds what
   * that response left it with, so a cache that made the response can compare only what changed since, instead
   * of every subscribed name. Absent otherwise; a cache must then compare everything.
   */
  returnedState?: unknown;
}

/**
 * A state-of-the-world answer to a watch. Responses with the same type, version and resources are shared by
 * every stream they go to, so their encoded body is assembled once.
 */
export interface Response {
  /** The type of every resource in it. */
  readonly typeUrl: ResourceTypeUrl;
  /** `version_info` to send (the version string the application set). */
  readonly version: string;
  /** The resources to send, already encoded. */
  readonly resources: readonly EncodedResource[];
  /**
   * The names of `resources`: state the cache returns with the response, which the server keeps for the stream
   * and hands back unchanged as `knownNames` with the next request of the type (as go-control-plane's
   * `GetReturnedResources`). Made once per response, however many streams it goes to.
   */
  returnedNames(): ReadonlySet<string>;
  /**
   * The encoded `DiscoveryResponse` without its nonce (fields version_info, resources, type_url), assembled on
   * first use and then kept: streams append their nonce (see `withNonce` in the resource wire helpers).
   */
  body(): Buffer;
  /**
   * True for a TTL heartbeat: the resources are sent as name and TTL without their body, to keep them alive in
   * the client. Absent means false.
   */
  readonly heartbeat?: boolean;
}

/** A delta answer to a watch. */
export interface DeltaResponse {
  /** The type of every resource in it. */
  readonly typeUrl: ResourceTypeUrl;
  /** `system_version_info`: the snapshot's version, for debugging only. */
  readonly systemVersion: string;
  /** The resources to send (new or changed for this client), already encoded. */
  readonly resources: readonly EncodedResource[];
  /** Names the client holds or subscribed to that no longer exist: sent as `removed_resources`. */
  readonly removed: readonly string[];
  /**
   * VHDS: names subscribed on demand that match no virtual host, sent as `Resource`s that carry the name as an
   * alias and have no body (how Envoy learns that the host does not exist). Absent or empty for other types.
   */
  readonly unresolved?: readonly string[] | undefined;
  /** The encoded `DeltaDiscoveryResponse` without its nonce, assembled on first use. */
  body(): Buffer;
  /** True for a TTL heartbeat (resources sent without their body). Absent means false. */
  readonly heartbeat?: boolean;
  /**
   * State of the cache's own that the server keeps for the stream and hands back unchanged as
   * `DeltaWatchRequest.returnedState` (under the conditions given there); the server never looks inside. The
   * snapshot cache returns the resources it compared the client's versions with, as go-control-plane's delta
   * responses return the versions the client holds next. Absent: nothing to hand back.
   */
  readonly returnedState?: unknown;
}

/** Cancels a watch. Idempotent. After it returns, the watch's `respond` is never called. */
export type CancelWatch = () => void;

/**
 * What the server needs of a cache. `SnapshotCache`, `LinearCache` and `MuxCache` implement it; so can an
 * application's own cache.
 */
export interface ConfigWatcher {
  /**
   * Opens a state-of-the-world watch. `respond` is called at most once, possibly before this returns.
   * Throws an `XdsError` when the request cannot be served (an unknown type for this cache, say).
   */
  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch;
  /**
   * Opens a delta watch. `respond` is called at most once, possibly before this returns.
   */
  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch;
  /**
   * Tells the cache a stream of this node closed, so it can release per-node state when no stream remains.
   * Optional: caches without per-node state need not implement it.
   */
  streamClosed?(node: Node): void;
  /** Tells the cache a stream of this node opened. Optional. */
  streamOpened?(node: Node): void;
  /** Answers a REST or `Fetch…` request: the current resources if `versionInfo` differs, else `undefined`. */
  fetch(request: WatchRequest): Response | undefined;
}
