/**
 * Decoding of the discovery requests that arrive on the wire, into plain objects in the shape of the generated
 * types (proto field names). The node is converted separately, once per stream: Envoy may repeat it on every
 * request and the server only needs its id after the first.
 */
import type protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { lookupProtoNamesType, lookupType } from '../resource/registry.js';
import { TypeUrl } from '../resource/type-url.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest, Node } from '../types/index.js';

/** The `error_detail` of a request: a `google.rpc.Status`. */
export interface RequestErrorDetail {
  /** gRPC status code. */
  code: number;
  /** The client's message. */
  message: string;
}

/** A state-of-the-world request as the server hands it to callbacks: every scalar field present. */
export interface XdsDiscoveryRequest extends DiscoveryRequest {
  version_info: string;
  /** The stream's node (from the first request when later ones omit it). */
  node?: Node;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: RequestErrorDetail;
}

/** A delta request as the server hands it to callbacks. */
export interface XdsDeltaDiscoveryRequest extends DeltaDiscoveryRequest {
  node?: Node;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: { [name: string]: string };
  response_nonce: string;
  error_detail?: RequestErrorDetail;
}

/** A decoded request with its node still in wire form (converted only when the stream needs it). */
export interface Decoded<T> {
  /** The request, without `node`. */
  readonly request: T;
  /** The node message, if the request carried one. */
  readonly node: NodeMessage | undefined;
}

/** A node as protobuf.js decoded it. */
export type NodeMessage = protobuf.Message & { id: string };

/**
 * What the request deserializer returns for bytes that are not a valid request: the handler ends the stream
 * with `INVALID_ARGUMENT` and this reason (gRPC's own handling would say only "INTERNAL").
 */
export class UndecodableRequest {
  /**
   * @param messageName - the message the bytes should have held
   * @param reason - what the decoder said
   */
  constructor(readonly messageName: string, readonly reason: string) {}

  /** The text of the status the stream ends with. */
  get message(): string {
    return `cannot decode ${this.messageName}: ${this.reason}`;
  }
}

interface StatusMessage {
  code: number;
  message: string;
}

function errorDetail(message: { error_detail?: StatusMessage | null }): RequestErrorDetail | undefined {
  const detail = message.error_detail;
  if (detail === null || detail === undefined) return undefined;
  return { code: detail.code, message: detail.message };
}

/** Decodes a `DiscoveryRequest`; never throws. */
export function decodeDiscoveryRequest(bytes: Uint8Array): Decoded<XdsDiscoveryRequest> | UndecodableRequest {
  let message: protobuf.Message & Record<string, unknown>;
  try {
    message = lookupType(TypeUrl.DiscoveryRequest).decode(bytes);
  } catch (error) {
    return new UndecodableRequest('envoy.service.discovery.v3.DiscoveryRequest', (error as Error).message);
  }
  const request: XdsDiscoveryRequest = {
    version_info: message['version_info'] as string,
    resource_names: message['resource_names'] as string[],
    type_url: message['type_url'] as string,
    response_nonce: message['response_nonce'] as string,
  };
  const detail = errorDetail(message as { error_detail?: StatusMessage | null });
  if (detail !== undefined) request.error_detail = detail;
  return { request, node: (message['node'] ?? undefined) as NodeMessage | undefined };
}

/** Decodes a `DeltaDiscoveryRequest`; never throws. */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): Decoded<XdsDeltaDiscoveryRequest> | UndecodableRequest {
  let message: protobuf.Message & Record<string, unknown>;
  try {
    message = lookupType(TypeUrl.DeltaDiscoveryRequest).decode(bytes);
  } catch (error) {
    return new UndecodableRequest('envoy.service.discovery.v3.DeltaDiscoveryRequest', (error as Error).message);
  }
  const request: XdsDeltaDiscoveryRequest = {
    type_url: message['type_url'] as string,
    resource_names_subscribe: message['resource_names_subscribe'] as string[],
    resource_names_unsubscribe: message['resource_names_unsubscribe'] as string[],
    initial_resource_versions: { ...(message['initial_resource_versions'] as Record<string, string>) },
    response_nonce: message['response_nonce'] as string,
  };
  const detail = errorDetail(message as { error_detail?: StatusMessage | null });
  if (detail !== undefined) request.error_detail = detail;
  return { request, node: (message['node'] ?? undefined) as NodeMessage | undefined };
}

/** Converts a decoded node to its ProtoJSON shape (proto field names). */
export function nodeToJson(node: NodeMessage): Node {
  return protojson.toJson(lookupProtoNamesType('envoy.config.core.v3.Node'), node) as Node;
}
