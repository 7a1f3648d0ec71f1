/**
 * Decoding of the discovery requests that arrive on the wire, into plain objects in the shape of the generated
 * types (proto field names). Requests are read field by field: the node is left in wire form (Envoy repeats its
 * node, some 60 KB, on every request; a stream decodes it once and afterwards reads only its id), and unknown
 * fields are skipped, as protobuf requires.
 */
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { lookupProtoNamesType, lookupType } from '../resource/registry.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest, Node } from '../types/index.js';
import type { ErrorDetail } from '../cache/verdict.js';
import { VersionEntries } from './held-versions.js';

/** The `error_detail` of a request: a `google.rpc.Status` (the cache's {@link ErrorDetail}). */
export type RequestErrorDetail = ErrorDetail;

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

/** A decoded request with its node still in wire form (decoded only when the stream needs it). */
export interface Decoded<T> {
  /** The request, without `node` (and, for delta, with `initial_resource_versions` still empty). */
  readonly request: T;
  /** The bytes of the `node` field, if the request carried one (a view into the request's buffer). */
  readonly node: Uint8Array | undefined;
  /**
   * Delta only: where the entries of `initial_resource_versions` lie in the request, not yet read. A
   * reconnecting Envoy sends one entry per resource it holds; the stream reads them through the
   * server's `HeldVersions` into a `Map`, and the request's object form is filled from that only for callbacks
   * (see {@link withInitialVersions}).
   */
  readonly versionEntries?: VersionEntries;
}

/**
 * Gives a decoded delta request's `initial_resource_versions` (its object form, for callbacks) from the map, made
 * on first read: an enumerable accessor that then becomes an ordinary property. A reconnecting Envoy sends an
 * entry per resource it holds, thousands per request; an object with that many fresh keys costs far more than
 * the map, and callbacks that count or log requests never read it.
 */
export function withInitialVersions(request: XdsDeltaDiscoveryRequest, versions: ReadonlyMap<string, string>): XdsDeltaDiscoveryRequest {
  if (versions.size === 0) return request;
  const settle = (value: { [name: string]: string }): { [name: string]: string } => {
    Object.defineProperty(request, 'initial_resource_versions', { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(request, 'initial_resource_versions', {
    enumerable: true,
    configurable: true,
    get: () => settle(versionsObject(versions)),
    set: settle,
  });
  return request;
}

/** The object form of a versions map: a plain object whose own keys are the names (`__proto__` included). */
function versionsObject(versions: ReadonlyMap<string, string>): { [name: string]: string } {
  const object: { [name: string]: string } = {};
  // Plain assignment is several times faster than Object.fromEntries for thousands of keys; the one name that
  // assignment would take for the prototype is defined as an own property instead.
  for (const [name, version] of versions) {
    if (name === '__proto__') Object.defineProperty(object, name, { value: version, writable: true, enumerable: true, configurable: true });
    else object[name] = version;
  }
  return object;
}

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

function readStatus(reader: protobuf.Reader): RequestErrorDetail {
  const status = lookupType('google.rpc.Status').decode(reader, reader.uint32()) as unknown as StatusMessage;
  return { code: status.code, message: status.message };
}

/** Reads a length-delimited field and returns its bytes (a view, not a copy). */
function readBytesView(reader: protobuf.Reader): Uint8Array {
  const start = skipLengthDelimited(reader);
  return reader.buf.subarray(start, reader.pos);
}

/** Skips a length-delimited field's bytes (checked to be within the message) and returns where they start. */
function skipLengthDelimited(reader: protobuf.Reader): number {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new RangeError(`index out of range: ${end} + 0 > ${reader.len}`);
  reader.pos = end;
  return start;
}

/** Decodes a `DiscoveryRequest`; never throws. */
export function decodeDiscoveryRequest(bytes: Uint8Array): Decoded<XdsDiscoveryRequest> | UndecodableRequest {
  const request: XdsDiscoveryRequest = { version_info: '', resource_names: [], type_url: '', response_nonce: '' };
  let node: Uint8Array | undefined;
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      switch (tag) {
        case 10:
          request.version_info = reader.string();
          break;
        case 18:
          node = readBytesView(reader);
          break;
        case 26:
          readStrings(reader, 26, request.resource_names);
          break;
        case 34:
          request.type_url = reader.string();
          break;
        case 42:
          request.response_nonce = reader.string();
          break;
        case 50:
          request.error_detail = readStatus(reader);
          break;
        default:
          reader.skipType(tag & 7);
      }
    }
  } catch (error) {
    return new UndecodableRequest('envoy.service.discovery.v3.DiscoveryRequest', (error as Error).message);
  }
  return { request, node };
}

/**
 * Decodes a `DeltaDiscoveryRequest`; never throws. `initial_resource_versions` comes back unread, as
 * `versionEntries` beside the request, whose own object form stays empty until {@link withInitialVersions}.
 */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): Decoded<XdsDeltaDiscoveryRequest> | UndecodableRequest {
  let typeUrl = '';
  let nonce = '';
  const subscribe: string[] = [];
  const unsubscribe: string[] = [];
  spanCount = 0;
  let node: Uint8Array | undefined;
  let errorDetail: RequestErrorDetail | undefined;
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      switch (tag) {
        case 10:
          node = readBytesView(reader);
          break;
        case 18:
          typeUrl = reader.string();
          break;
        case 26:
          readStrings(reader, 26, subscribe);
          break;
        case 34:
          readStrings(reader, 34, unsubscribe);
          break;
        case 42:
          // Repeated entries come one after another: found in a loop of their own, which the JIT keeps tight.
          // Only where they lie is noted here; the stream reads them (see HeldVersions).
          spanOf(reader);
          while (reader.pos < reader.len && reader.buf[reader.pos] === 42) {
            reader.pos++;
            spanOf(reader);
          }
          break;
        case 50:
          nonce = reader.string();
          break;
        case 58:
          errorDetail = readStatus(reader);
          break;
        default:
          reader.skipType(tag & 7);
      }
    }
  } catch (error) {
    shrinkSpans();
    return new UndecodableRequest('envoy.service.discovery.v3.DeltaDiscoveryRequest', (error as Error).message);
  }
  const request: XdsDeltaDiscoveryRequest = {
    type_url: typeUrl,
    resource_names_subscribe: subscribe,
    resource_names_unsubscribe: unsubscribe,
    initial_resource_versions: {},
    response_nonce: nonce,
  };
  if (errorDetail !== undefined) request.error_detail = errorDetail;
  if (spanCount === 0) return { request, node };
  const versionEntries = new VersionEntries(bytes, spanScratch.slice(0, spanCount));
  shrinkSpans();
  return { request, node, versionEntries };
}

/** Reads a string field and the elements of the same field that follow it (one-byte `tag`) into `into`. */
function readStrings(reader: protobuf.Reader, tag: number, into: string[]): void {
  into.push(reader.string());
  while (reader.pos < reader.len && reader.buf[reader.pos] === tag) {
    reader.pos++;
    into.push(reader.string());
  }
}

/**
 * Where the `initial_resource_versions` entries of the request being decoded lie, start and end in pairs: the
 * first `spanCount` numbers of a buffer reused from request to request (decoding is synchronous), copied out at
 * the end.
 */
const INITIAL_SPANS = 4096;
const MAX_KEPT_SPANS = 65536;
let spanScratch = new Uint32Array(INITIAL_SPANS);
let spanCount = 0;

/** A request of many entries grew the buffer: it is not kept that large, whether or not the request decoded. */
function shrinkSpans(): void {
  if (spanScratch.length > MAX_KEPT_SPANS) spanScratch = new Uint32Array(INITIAL_SPANS);
}

/** Notes where one length-delimited field's bytes lie (start and end) and skips them. */
function spanOf(reader: protobuf.Reader): void {
  if (spanCount + 2 > spanScratch.length) {
    const grown = new Uint32Array(spanScratch.length * 2);
    grown.set(spanScratch);
    spanScratch = grown;
  }
  spanScratch[spanCount++] = skipLengthDelimited(reader);
  spanScratch[spanCount++] = reader.pos;
}

/** A node as protobuf.js decoded it. */
export type NodeMessage = protobuf.Message & { id: string };

/** Decodes the bytes of a `node` field; throws what protobuf.js says of bytes that are not a Node. */
export function decodeNode(bytes: Uint8Array): NodeMessage {
  return lookupType('envoy.config.core.v3.Node').decode(bytes) as NodeMessage;
}

/**
 * Reads only the `id` of a node from its bytes (field 1), skipping every other field undecoded; '' when absent.
 * A stream checks the node of each later request with it: Envoy repeats its node (some 60 KB, with maps written
 * in hash order, so the bytes need not repeat) on every request, and only the id may not change.
 */
export function readNodeId(bytes: Uint8Array): string {
  const reader = protobuf.Reader.create(bytes);
  let id = '';
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 10) id = reader.string();
    else reader.skipType(tag & 7);
  }
  return id;
}

/** Converts a decoded node to its ProtoJSON shape (proto field names). */
export function nodeToJson(node: NodeMessage): Node {
  return protojson.toJson(lookupProtoNamesType('envoy.config.core.v3.Node'), node) as Node;
}
