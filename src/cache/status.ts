/**
 * What a cache knows about each node it serves: when it last asked, how many watches it has open, and per
 * resource type the version last sent, the version last ACKed and the last NACK with Envoy's message. ACKs and
 * NACKs are read off the requests, as the xDS protocol defines them: a request that carries the nonce of a
 * response and no `error_detail` accepts `version_info`; one with `error_detail` rejects a response.
 */
import type { Node } from '../types/index.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { DeltaWatchRequest, ErrorDetail, WatchRequest } from './config-watcher.js';
import type { Snapshot } from './snapshot.js';

/** The last rejection of a resource type by a node. */
export interface NackInfo {
  /** The version the client rejected ('' when unknown). */
  readonly version: string;
  /** Envoy's error code and message: why it rejected the configuration. */
  readonly errorDetail: ErrorDetail;
  /** Envoy's message (the same as `errorDetail.message`), for quick reading. */
  readonly message: string;
  /** When the NACK arrived. */
  readonly time: Date;
}

/** Status of one resource type for one node. Fields are absent until the event they describe happens. */
export interface TypeStatus {
  /** The version of the last response the cache gave for this node and type. */
  readonly lastSentVersion?: string;
  /** When that response was given. */
  readonly lastSentTime?: Date;
  /** The last version the node accepted (ACKed). For delta, the version last sent when the ACK arrived. */
  readonly lastAckedVersion?: string;
  /** When that ACK arrived. */
  readonly lastAckTime?: Date;
  /** The last NACK, kept after later ACKs so that an operator can still read why. */
  readonly lastNack?: NackInfo;
}

/**
 * A copy of what the cache knows about one cache key (a node, or a group of nodes sharing a key), as
 * go-control-plane's `StatusInfo`. Taken when asked for; it does not change afterwards.
 */
export interface StatusInfo {
  /** The cache key (by default the node id). */
  readonly key: string;
  /** The node of the last stream that opened or asked under this key. */
  readonly node: Node;
  /** When the last request (SotW or delta) under this key arrived. */
  readonly lastRequestTime: Date | undefined;
  /** Open state-of-the-world watches. */
  readonly numWatches: number;
  /** Open delta watches. */
  readonly numDeltaWatches: number;
  /** Streams open under this key (as told by `streamOpened` and `streamClosed`). */
  readonly openStreams: number;
  /** Per resource type, what was sent, accepted and rejected. */
  readonly types: ReadonlyMap<ResourceTypeUrl, TypeStatus>;
}

/** Payload of the `set` event: a snapshot was set for a key. */
export interface SetEvent {
  /** The cache key. */
  readonly key: string;
  /** The snapshot now served to it. */
  readonly snapshot: Snapshot;
}

/** Payload of the `pushed` event: the work of one `setSnapshot` is done. */
export interface PushedEvent {
  /** The cache key. */
  readonly key: string;
  /** The snapshot set. */
  readonly snapshot: Snapshot;
  /** Open watches of the key reviewed (each answered if the snapshot changed what it watches). */
  readonly watches: number;
  /** Milliseconds from the `setSnapshot` call until every watch was answered (or a newer snapshot took over). */
  readonly durationMs: number;
}

/** Payload of the `ack` event: a node accepted a response. */
export interface AckEvent {
  /** The cache key of the node. */
  readonly key: string;
  /** The node that accepted. */
  readonly node: Node;
  /** The resource type accepted. */
  readonly typeUrl: ResourceTypeUrl;
  /** The version accepted (for delta: the version the cache last sent for this type). */
  readonly version: string;
  /** The nonce of the accepted response. */
  readonly nonce: string;
  /** Which protocol variant the stream speaks. */
  readonly delta: boolean;
}

/** Payload of the `nack` event: a node rejected a response. */
export interface NackEvent {
  /** The cache key of the node. */
  readonly key: string;
  /** The node that rejected. */
  readonly node: Node;
  /** The resource type rejected. */
  readonly typeUrl: ResourceTypeUrl;
  /** The version rejected ('' when unknown). The cache will not send it to this stream again. */
  readonly version: string;
  /** Envoy's error code and message. */
  readonly errorDetail: ErrorDetail;
  /** The nonce of the rejected response. */
  readonly nonce: string;
  /** Which protocol variant the stream speaks. */
  readonly delta: boolean;
}

/** The events a {@link SnapshotCache} emits, with their payloads. */
export interface SnapshotCacheEvents {
  /** A snapshot was set (emitted before any watch is answered from it). */
  set: (event: SetEvent) => void;
  /** The watches a snapshot changed were answered: `setSnapshot`'s promise resolves. */
  pushed: (event: PushedEvent) => void;
  /** A node accepted a response (once per response nonce). */
  ack: (event: AckEvent) => void;
  /** A node rejected a response. */
  nack: (event: NackEvent) => void;
}

interface MutableTypeStatus {
  lastSentVersion?: string;
  lastSentTime?: Date;
  lastAckedVersion?: string;
  lastAckTime?: Date;
  lastAckNonce?: string;
  lastNack?: NackInfo;
}

/** What a request meant for the status: an ACK, a NACK, or neither (a first request, a repeated ACK). */
export type RequestMeaning = { ack: AckEvent } | { nack: NackEvent } | undefined;

/** The mutable status of one cache key; {@link NodeStatus.info} copies it out. */
export class NodeStatus {
  readonly key: string;
  node: Node;
  lastRequestTime: Date | undefined;
  readonly #types = new Map<ResourceTypeUrl, MutableTypeStatus>();

  constructor(key: string, node: Node) {
    this.key = key;
    this.node = node;
  }

  #type(typeUrl: ResourceTypeUrl): MutableTypeStatus {
    let status = this.#types.get(typeUrl);
    if (status === undefined) {
      status = {};
      this.#types.set(typeUrl, status);
    }
    return status;
  }

  /** Records a state-of-the-world request and says whether it ACKed or NACKed. */
  sotwRequest(request: WatchRequest, now: Date): RequestMeaning {
    this.lastRequestTime = now;
    this.node = request.node;
    if (request.responseNonce === '') return undefined;
    const status = this.#type(request.typeUrl);
    const base = { key: this.key, node: request.node, typeUrl: request.typeUrl, nonce: request.responseNonce, delta: false };
    if (request.errorDetail !== undefined) {
      const version = request.rejectedVersion ?? status.lastSentVersion ?? '';
      status.lastNack = { version, errorDetail: request.errorDetail, message: request.errorDetail.message, time: now };
      return { nack: { ...base, version, errorDetail: request.errorDetail } };
    }
    // A request that changes the subscription repeats the nonce it last ACKed: report each ACK once.
    if (status.lastAckNonce === request.responseNonce) return undefined;
    status.lastAckNonce = request.responseNonce;
    status.lastAckedVersion = request.versionInfo;
    status.lastAckTime = now;
    return { ack: { ...base, version: request.versionInfo } };
  }

  /** Records a delta request and says whether it ACKed or NACKed. */
  deltaRequest(request: DeltaWatchRequest, now: Date): RequestMeaning {
    this.lastRequestTime = now;
    this.node = request.node;
    if (request.responseNonce === '') return undefined;
    const status = this.#type(request.typeUrl);
    // Delta requests carry no version: the one last sent is the best knowledge of what the nonce refers to.
    const version = status.lastSentVersion ?? '';
    const base = { key: this.key, node: request.node, typeUrl: request.typeUrl, nonce: request.responseNonce, delta: true };
    if (request.errorDetail !== undefined) {
      status.lastNack = { version, errorDetail: request.errorDetail, message: request.errorDetail.message, time: now };
      return { nack: { ...base, version, errorDetail: request.errorDetail } };
    }
    if (status.lastAckNonce === request.responseNonce) return undefined;
    status.lastAckNonce = request.responseNonce;
    status.lastAckedVersion = version;
    status.lastAckTime = now;
    return { ack: { ...base, version } };
  }

  /** Records that a response of this type and version was given. */
  sent(typeUrl: ResourceTypeUrl, version: string, now: Date): void {
    const status = this.#type(typeUrl);
    status.lastSentVersion = version;
    status.lastSentTime = now;
  }

  /** A frozen copy of the status. */
  info(counts: { numWatches: number; numDeltaWatches: number; openStreams: number }): StatusInfo {
    const types = new Map<ResourceTypeUrl, TypeStatus>();
    for (const [typeUrl, status] of this.#types) {
      const { lastAckNonce: _nonce, ...visible } = status;
      types.set(typeUrl, Object.freeze(visible));
    }
    return Object.freeze({ key: this.key, node: this.node, lastRequestTime: this.lastRequestTime, ...counts, types });
  }
}
