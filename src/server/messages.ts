/**
 * Decoding of the discovery requests that arrive on the wire, into plain objects in the shape of the generated
 * types (proto field names). The node is converted separately, once per stream: Envoy may repeat it on every
 * request and the server only needs its id after the first.
 */
import protobuf from 'protobufjs';
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

// `initial_resource_versions` of decoded delta requests, as maps, until a callback replaces the object form.
const decodedVersions = new WeakMap<XdsDeltaDiscoveryRequest, ReadonlyMap<string, string>>();

/**
 * The `initial_resource_versions` of a delta request as a map: the decoded map itself (no copy), or the entries
 * of the object when the request was built elsewhere or a callback replaced it.
 */
export function initialVersionsOf(request: XdsDeltaDiscoveryRequest): ReadonlyMap<string, string> {
  return decodedVersions.get(request) ?? new Map(Object.entries(request.initial_resource_versions));
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

/**
 * Decodes a `DeltaDiscoveryRequest`; never throws.
 *
 * Read field by field rather than by the generated decoder: a reconnecting Envoy sends
 * `initial_resource_versions` with an entry per resource it holds (thousands), and a map read straight into a
 * `Map` costs a fraction of a plain object with thousands of keys. The object form that callbacks see is
 * built from the map on first read. Unknown fields are skipped, as protobuf requires.
 */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): Decoded<XdsDeltaDiscoveryRequest> | UndecodableRequest {
  let typeUrl = '';
  let nonce = '';
  const subscribe: string[] = [];
  const unsubscribe: string[] = [];
  const versions = new Map<string, string>();
  let node: NodeMessage | undefined;
  let status: StatusMessage | undefined;
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      switch (tag >>> 3) {
        case 1:
          node = lookupType('envoy.config.core.v3.Node').decode(reader, reader.uint32()) as NodeMessage;
          break;
        case 2:
          typeUrl = reader.string();
          break;
        case 3:
          subscribe.push(reader.string());
          break;
        case 4:
          unsubscribe.push(reader.string());
          break;
        case 5: {
          const end = reader.uint32() + reader.pos;
          let key = '';
          let value = '';
          while (reader.pos < end) {
            const entryTag = reader.uint32();
            if (entryTag === 10) key = reader.string();
            else if (entryTag === 18) value = reader.string();
            else reader.skipType(entryTag & 7);
          }
          versions.set(key, value);
          break;
        }
        case 6:
          nonce = reader.string();
          break;
        case 7:
          status = lookupType('google.rpc.Status').decode(reader, reader.uint32()) as unknown as StatusMessage;
          break;
        default:
          reader.skipType(tag & 7);
      }
    }
  } catch (error) {
    return new UndecodableRequest('envoy.service.discovery.v3.DeltaDiscoveryRequest', (error as Error).message);
  }
  const request = {
    type_url: typeUrl,
    resource_names_subscribe: subscribe,
    resource_names_unsubscribe: unsubscribe,
    response_nonce: nonce,
  } as XdsDeltaDiscoveryRequest;
  let versionsObject: { [name: string]: string } | undefined;
  Object.defineProperty(request, 'initial_resource_versions', {
    enumerable: true,
    configurable: true,
    get: () => (versionsObject ??= Object.fromEntries(versions)),
    set: (value: { [name: string]: string }) => {
      versionsObject = value;
      decodedVersions.delete(request);
    },
  });
  decodedVersions.set(request, versions);
  if (status !== undefined) request.error_detail = { code: status.code, message: status.message };
  return { request, node };
}

/** Converts a decoded node to its ProtoJSON shape (proto field names). */
export function nodeToJson(node: NodeMessage): Node {
  return protojson.toJson(lookupProtoNamesType('envoy.config.core.v3.Node'), node) as Node;
}
