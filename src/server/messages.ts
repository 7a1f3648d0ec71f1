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
import type { ErrorDetail } from '../cache/verdict.js';

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

/** The initial versions of every request that has none: one shared empty map, never changed. */
const NO_VERSIONS: ReadonlyMap<string, string> = new Map<string, string>();

const sharedSubscribes = new WeakMap<XdsDeltaDiscoveryRequest, readonly string[]>();

/**
 * The `resource_names_subscribe` of a delta request: the decoded list shared with other requests that carried
 * the same bytes (see `RunCache`), as long as the request's own copy still holds the same names (a callback may
 * have changed it); else the request's own list.
 */
export function subscribeListOf(request: XdsDeltaDiscoveryRequest): readonly string[] {
  const own = request.resource_names_subscribe;
  const shared = sharedSubscribes.get(request);
  if (shared === undefined || shared.length !== own.length) return own;
  for (let i = 0; i < own.length; i++) if (own[i] !== shared[i]) return own;
  return shared;
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

/** Reads one `initial_resource_versions` entry (its length, then key and value) into `versions`. */
function readVersionEntry(reader: protobuf.Reader, versions: Map<string, string>): void {
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
}

// Runs shorter than this are decoded each time: comparing and caching would cost more than they save.
const MIN_RUN_BYTES = 1024;
// Runs longer than this are not kept, so that the cache stays small whatever clients send.
const MAX_RUN_BYTES = 4 * 1024 * 1024;
const RUNS_KEPT = 8;

/**
 * Recently decoded runs of one repeated field, by their bytes. The streams of a fleet that shares one
 * configuration reconnect with the same `initial_resource_versions` and the same subscriptions, byte for byte;
 * comparing the bytes with a run seen before costs far less than decoding thousands of strings again, and the
 * decoded value (and its strings, whose hashes are then computed once) is shared between requests.
 */
class RunCache<T> {
  readonly #runs: { readonly bytes: Uint8Array; readonly value: T }[] = [];

  /** @param decode - decodes a run (each element with its tag) up to `end` */
  constructor(private readonly decode: (reader: protobuf.Reader, end: number) => T) {}

  /**
   * With the reader just past the one-byte `tag` of a field, takes every element of the field that follows
   * without another field in between; returns their decoded value (shared: not to be modified), or undefined
   * (nothing read) when the run is too short or too long to cache, or malformed.
   */
  take(reader: protobuf.Reader, tag: number): T | undefined {
    if (tag > 0x7f) return undefined;
    const buf = reader.buf;
    const start = reader.pos - 1;
    let pos = start;
    while (pos < reader.len && buf[pos] === tag) {
      let length = 0;
      let shift = 0;
      let byte: number;
      pos++;
      do {
        if (pos >= reader.len || shift > 28) return undefined;
        byte = buf[pos++]!;
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
      pos += length;
    }
    if (pos > reader.len || pos - start < MIN_RUN_BYTES || pos - start > MAX_RUN_BYTES) return undefined;
    const bytes = buf.subarray(start, pos);
    for (const run of this.#runs) {
      if (run.bytes.length === bytes.length && Buffer.compare(run.bytes, bytes) === 0) {
        reader.pos = pos;
        return run.value;
      }
    }
    reader.pos = start;
    const value = this.decode(reader, pos);
    // A copy: the request's buffer is not kept alive by the cache.
    this.#runs.unshift({ bytes: Uint8Array.prototype.slice.call(bytes), value });
    if (this.#runs.length > RUNS_KEPT) this.#runs.pop();
    return value;
  }
}

const versionRuns = new RunCache<ReadonlyMap<string, string>>((reader, end) => {
  const versions = new Map<string, string>();
  while (reader.pos < end) {
    reader.uint32();
    readVersionEntry(reader, versions);
  }
  return versions;
});

const subscribeRuns = new RunCache<readonly string[]>((reader, end) => {
  const names: string[] = [];
  while (reader.pos < end) {
    reader.uint32();
    names.push(reader.string());
  }
  return names;
});

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
  let subscribe: string[] = [];
  let sharedSubscribe: readonly string[] | undefined;
  const unsubscribe: string[] = [];
  let versions: ReadonlyMap<string, string> | undefined;
  let owned: Map<string, string> | undefined;
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
        case 3: {
          const run = subscribe.length === 0 ? subscribeRuns.take(reader, tag) : undefined;
          if (run !== undefined) {
            // The request gets its own copy (callbacks may change it); the shared list is kept beside it.
            subscribe = run.slice();
            sharedSubscribe = run;
          } else {
            subscribe.push(reader.string());
            sharedSubscribe = undefined;
          }
          break;
        }
        case 4:
          unsubscribe.push(reader.string());
          break;
        case 5: {
          if (versions === undefined) {
            versions = versionRuns.take(reader, tag);
            if (versions !== undefined) break;
          }
          // A map taken from the cache is shared with other requests: further entries go into a copy.
          if (owned === undefined) versions = owned = new Map(versions);
          readVersionEntry(reader, owned);
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
  const initial = versions ?? NO_VERSIONS;
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
    get: () => (versionsObject ??= Object.fromEntries(initial)),
    set: (value: { [name: string]: string }) => {
      versionsObject = value;
      decodedVersions.delete(request);
    },
  });
  decodedVersions.set(request, initial);
  if (sharedSubscribe !== undefined) sharedSubscribes.set(request, sharedSubscribe);
  if (status !== undefined) request.error_detail = { code: status.code, message: status.message };
  return { request, node };
}

/** Converts a decoded node to its ProtoJSON shape (proto field names). */
export function nodeToJson(node: NodeMessage): Node {
  return protojson.toJson(lookupProtoNamesType('envoy.config.core.v3.Node'), node) as Node;
}
