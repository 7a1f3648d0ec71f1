/**
 * The server's verdict on a response: accepted (ACK) or rejected (NACK). The server decides it once, from its
 * nonces (a request that carries the nonce of the stream's last response of a type answers that response), and
 * hands the same object to the `onAck` / `onNack` callbacks and to the cache with the watch request. The cache
 * records it in its status; it never judges requests itself.
 */
import type { Node } from '../types/index.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';

/** The `error_detail` of a NACK (a `google.rpc.Status`). */
export interface ErrorDetail {
  /** gRPC status code the client chose (Envoy uses `INVALID_ARGUMENT`). */
  code: number;
  /** The client's explanation of why it rejected the configuration. */
  message: string;
}

/** A client accepted a response: its request carried the response's nonce and no `error_detail`. */
export interface AckEvent {
  /** The server's id of the stream. */
  readonly streamId: number;
  /** The client's node. */
  readonly node: Node;
  /** The client's node id (`node.id`). */
  readonly nodeId: string;
  /** The type acknowledged. */
  readonly typeUrl: ResourceTypeUrl;
  /**
   * The version accepted: the version of the response the nonce names (SotW `version_info`, delta
   * `system_version_info`).
   */
  readonly version: string;
  /** Nonce of the acknowledged response. */
  readonly nonce: string;
  /** True on a delta stream. */
  readonly delta: boolean;
}

/** A client rejected a response: its request carried the response's nonce and an `error_detail`. */
export interface NackEvent {
  /** The server's id of the stream. */
  readonly streamId: number;
  /** The client's node. */
  readonly node: Node;
  /** The client's node id (`node.id`). */
  readonly nodeId: string;
  /** The type rejected. */
  readonly typeUrl: ResourceTypeUrl;
  /** The version of the response the nonce names, which the client rejected. It is not sent to it again. */
  readonly rejectedVersion: string;
  /** The version the client still runs (`version_info` of the request; '' in delta, whose requests carry none). */
  readonly currentVersion: string;
  /** Nonce of the rejected response. */
  readonly nonce: string;
  /** The client's `error_detail`: Envoy says which resource and field it could not accept. */
  readonly errorDetail: ErrorDetail;
  /** True on a delta stream. */
  readonly delta: boolean;
}
