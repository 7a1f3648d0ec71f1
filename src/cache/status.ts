/**
 * What a cache knows about each node it serves: when it last asked, how many watches it has open, and per
 * resource type the version last sent, the version last ACKed and the last NACK with Envoy's message. The ACKs
 * and NACKs are the server's verdicts, passed in with the watch requests (`ack`, `nack`): the server decides
 * them once from its nonces; the cache only records them.
 */
import type { Node } from '../types/index.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { Snapshot } from './snapshot.js';
import type { AckEvent, ErrorDetail, NackEvent } from './verdict.js';

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
  /** The last version the node accepted (ACKed): the version of the response whose nonce the ACK carried. */
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

/** The events a {@link SnapshotCache} emits, with their payloads. */
export interface SnapshotCacheEvents {
  /** A snapshot was set (emitted before any watch is answered from it). */
  set: (event: SetEvent) => void;
  /** The watches a snapshot changed were answered: `setSnapshot`'s promise resolves. */
  pushed: (event: PushedEvent) => void;
  /** A node accepted a response (the server's verdict, once per response); `key` is the node's cache key. */
  ack: (event: AckEvent, key: string) => void;
  /** A node rejected a response (the server's verdict); `key` is the node's cache key. */
  nack: (event: NackEvent, key: string) => void;
}

interface MutableTypeStatus {
  lastSentVersion?: string;
  lastSentTime?: Date;
  lastAckedVersion?: string;
  lastAckTime?: Date;
  lastNack?: NackInfo;
}

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

  /**
   * Records that a request of this node arrived, with the server's verdict on the last response if it carries
   * one.
   */
  requested(request: { node: Node; ack?: AckEvent | undefined; nack?: NackEvent | undefined }, now: Date): void {
    this.lastRequestTime = now;
    this.node = request.node;
    if (request.ack !== undefined) {
      const status = this.#type(request.ack.typeUrl);
      status.lastAckedVersion = request.ack.version;
      status.lastAckTime = now;
    }
    if (request.nack !== undefined) {
      const { rejectedVersion, errorDetail, typeUrl } = request.nack;
      this.#type(typeUrl).lastNack = { version: rejectedVersion, errorDetail, message: errorDetail.message, time: now };
    }
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
    for (const [typeUrl, status] of this.#types) types.set(typeUrl, Object.freeze({ ...status }));
    return Object.freeze({ key: this.key, node: this.node, lastRequestTime: this.lastRequestTime, ...counts, types });
  }
}
