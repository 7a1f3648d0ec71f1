/**
 * What the primary process and the worker processes of the worker mode say to each other over the cluster's IPC
 * channel (serialization 'advanced': buffers travel as bytes), and the record both sides keep of what a worker
 * holds, so that the primary sends the bytes of a resource to a worker once, never per snapshot or per key.
 *
 * Snapshots travel as encoded bytes: the primary encodes every resource once (when the application builds the
 * snapshot); a worker rebuilds `EncodedResource`s from the bytes and hashes it is given and never encodes.
 */
import { Metadata } from '@grpc/grpc-js';
import { EncodedResource } from '../cache/encoded-resource.js';
import { Snapshot } from '../cache/snapshot.js';
import type { SnapshotCacheSettings } from '../cache/snapshot-cache.js';
import type { AckEvent, NackEvent } from '../cache/verdict.js';
import { asBuffer } from '../resource/codec.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { Node } from '../types/index.js';
import type { AuthContext, RequestContext } from './callbacks.js';
import type { ClientStatusRequest } from './csds.js';
import type { ServingStatus } from './health.js';
import type { XdsDiscoveryRequest } from './messages.js';
import type { ServerStats } from './server.js';
import type { TlsCredentials } from './tls.js';

/** The server options a worker runs with: every option except the callbacks and the logger, which stay in the primary. */
export interface WorkerServerOptions {
  readonly orderedAds: boolean;
  readonly legacyWildcardTypes: readonly ResourceTypeUrl[];
  readonly maxResourceNames: number;
  readonly requestRateLimit: { perSecond: number; burst: number } | false;
  readonly maxReceiveMessageLength: number;
  readonly maxSendMessageLength: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  readonly grpcOptions: Readonly<Record<string, string | number>>;
  readonly maxConnections: number | false;
  readonly maxStreamsPerConnection: number | false;
  readonly maxStreamsPerNode: number | false;
  readonly newStreamRate: { perSecond: number; burst: number } | false;
  readonly restHeadersTimeoutMs: number;
  readonly restRequestTimeoutMs: number;
}

/** One resource of a snapshot as it travels: its identity within its type, and its name and TTL. */
type ResourceRef = readonly [id: string, name: string, hash: string, ttlMs: number | undefined];

/** A snapshot as it travels: per type its version and resources, and the bytes of the resources the worker lacks. */
export interface SnapshotMessage {
  readonly version: string;
  readonly types: readonly (readonly [typeUrl: ResourceTypeUrl, version: string, resources: readonly ResourceRef[]])[];
  /** Bytes of resources the worker does not hold yet, by resource id. */
  readonly bytes: readonly (readonly [id: string, bytes: Uint8Array])[];
}

/**
 * One key's change in a worker: serve it snapshot `id` (described, with the bytes the worker lacks, the first
 * time the worker is given it), or, without an id, serve it nothing.
 */
export type SnapshotChange = readonly [key: string, id: number, snapshot: SnapshotMessage | undefined] | readonly [key: string];

/**
 * What the server knows of a client (see `RequestContext`) as it travels: binary metadata values (`-bin` keys) in
 * base64, the TLS details as the worker's call gave them.
 */
export interface PortableContext {
  readonly peer: string;
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  readonly authContext: AuthContext | undefined;
}

/** A request context made portable, to be sent to the primary. */
export function portableContext(context: RequestContext): PortableContext {
  const metadata: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(context.metadata?.toJSON() ?? {})) {
    metadata[name] = values.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64')));
  }
  return { peer: context.peer, metadata, authContext: context.authContext ?? undefined };
}

/** The request context a {@link PortableContext} was made from, with its metadata as gRPC `Metadata` again. */
export function requestContextOf(portable: PortableContext): RequestContext {
  const metadata = new Metadata();
  for (const [name, values] of Object.entries(portable.metadata)) {
    for (const value of values) metadata.add(name, name.endsWith('-bin') ? Buffer.from(value, 'base64') : value);
  }
  return { peer: portable.peer, metadata, authContext: arrivedAuthContext(portable.authContext) };
}

/** The status a question to the primary failed with: the worker ends the call with it. */
export interface RemoteError {
  readonly code: number;
  readonly message: string;
}

/** Primary to worker. */
export type ToWorker =
  | {
      readonly t: 'init';
      /** Unique among the workers the primary ever started: streams of worker `seq` get ids `seq * 2^32 + n`. */
      readonly seq: number;
      readonly options: WorkerServerOptions;
      readonly cache: SnapshotCacheSettings;
      /** Module whose default export maps a node to its cache key, when the cache has its own hash. */
      readonly hashModule: string | undefined;
      /** The open hooks the application set: the worker asks the primary before serving such a stream. */
      readonly consultOpen: { readonly sotw: boolean; readonly delta: boolean };
      /** The health service's statuses now, when the `health` option is on; `health` messages bring the changes. */
      readonly health: HealthStatuses | undefined;
      /** The application set `authorize`: the worker asks the primary at each stream's first request (fetches go there whole). */
      readonly authorize: boolean;
      /** CSDS is on: the worker serves it, asking the primary for each answer. */
      readonly csds: boolean;
    }
  /** Snapshots to serve and keys to drop, in order; the worker answers `applied` with the same `seq`. */
  | { readonly t: 'sets'; readonly seq: number; readonly changes: readonly SnapshotChange[] }
  /** Listen, over TLS built in the worker from these bytes when given. */
  | { readonly t: 'listen'; readonly address: string; readonly tls: TlsCredentials | undefined }
  /** The primary's health statuses changed: every service's status now. */
  | { readonly t: 'health'; readonly statuses: HealthStatuses }
  | { readonly t: 'consulted'; readonly id: number; readonly error: RemoteError | undefined }
  /** Allowed (`error` undefined), serving `node`: as its bytes or the object; undefined for the node the client sent. */
  | { readonly t: 'authorized'; readonly id: number; readonly node: Uint8Array | Node | undefined; readonly error: RemoteError | undefined }
  /** The encoded `ClientStatusResponse`, or the error that ends the call. */
  | { readonly t: 'clientStatus'; readonly id: number; readonly response: Uint8Array | undefined; readonly error: RemoteError | undefined }
  /** The encoded `DiscoveryResponse` a `Fetch…` call answers, or the error that ends the call. */
  | { readonly t: 'fetched'; readonly id: number; readonly response: Uint8Array | undefined; readonly error: RemoteError | undefined }
  | { readonly t: 'info'; readonly id: number }
  | { readonly t: 'close'; readonly deadlineMs: number };

/** Every service's health status, as the primary's `HealthService` holds it. */
export type HealthStatuses = readonly (readonly [service: string, status: ServingStatus])[];

/**
 * The auth context of a request as it arrived in the primary, made like the one grpc-js gives in one process:
 * the peer certificate's name objects (`subject`, `issuer`, `infoAccess`) have no prototype there, and regain
 * that (the buffers arrive as buffers).
 */
function arrivedAuthContext(authContext: AuthContext | undefined): AuthContext | undefined {
  const certificate = authContext?.sslPeerCertificate as Record<string, unknown> | undefined;
  if (certificate === undefined) return authContext;
  for (const name of ['subject', 'issuer', 'infoAccess']) {
    const value = certificate[name];
    if (typeof value === 'object' && value !== null) certificate[name] = Object.assign(Object.create(null) as object, value);
  }
  return authContext;
}

/** A verdict as it travels: the node is left out (the primary knows the node of each key from `opened`). */
export type RemoteAck = Omit<AckEvent, 'node'>;
/** See {@link RemoteAck}. */
export type RemoteNack = Omit<NackEvent, 'node'>;

/** Something that happened in a worker that the primary records (status) or reports (callbacks, logs). */
export type WorkerEvent =
  | readonly [t: 'stream', streamId: number, delta: boolean]
  | readonly [t: 'streamClosed', streamId: number, delta: boolean]
  /**
   * The first stream of a key opened in this worker, with its node: as the bytes it arrived in while nobody in the
   * worker decoded it (cheaper to send and to receive than the object, and read lazily there), else the object.
   * Another stream of the key: node undefined.
   */
  | readonly [t: 'opened', key: string, node: Uint8Array | Node | undefined]
  | readonly [t: 'closed', key: string]
  | readonly [t: 'ack', key: string, event: RemoteAck]
  | readonly [t: 'nack', key: string, event: RemoteNack]
  | readonly [t: 'sent', key: string, typeUrl: ResourceTypeUrl, version: string]
  | readonly [t: 'log', level: 'info' | 'warn' | 'error', fields: object, message: string | undefined];

/** What a worker holds and has done, as {@link XdsServer.workers} reports it. */
export interface WorkerInfo {
  /** The worker's process id. */
  readonly pid: number;
  /** Its streams, watches and pending responses. */
  readonly stats: ServerStats;
  /** Resources it encoded: 0, since it is handed bytes. */
  readonly encodeCount: number;
  /** Snapshots and distinct resources it holds. */
  readonly snapshots: number;
  readonly resources: number;
}

/** Worker to primary. */
export type FromWorker =
  /** The worker listens for messages; the primary sends nothing before. */
  | { readonly t: 'ready' }
  | { readonly t: 'initialized' }
  | { readonly t: 'events'; readonly events: readonly WorkerEvent[]; readonly stats: ServerStats }
  | { readonly t: 'applied'; readonly seq: number }
  | { readonly t: 'listening'; readonly port: number }
  | { readonly t: 'listenFailed'; readonly message: string }
  | { readonly t: 'consult'; readonly id: number; readonly streamId: number; readonly typeUrl: string; readonly delta: boolean; readonly context: PortableContext }
  /**
   * Asks `authorize` about a stream's first request; `node` is the node the client sent, as the bytes it arrived
   * in while nobody in the worker decoded it, else the object.
   */
  | {
      readonly t: 'authorize';
      readonly id: number;
      readonly kind: 'sotw' | 'delta' | 'fetch' | 'rest';
      readonly typeUrl: ResourceTypeUrl;
      readonly node: Uint8Array | Node;
      readonly context: PortableContext;
    }
  /** Asks for the answer to a CSDS request (decoded and size-checked by the worker's gRPC server). */
  | { readonly t: 'clientStatus'; readonly id: number; readonly request: ClientStatusRequest }
  /**
   * Asks for the answer to a `Fetch…` call on the service of `typeUrl`: the request as the worker's gRPC server
   * decoded it (size-checked), its node still as the bytes it arrived in. The primary authorizes and answers it
   * from the application's cache, which holds every key's snapshot.
   */
  | {
      readonly t: 'fetch';
      readonly id: number;
      readonly typeUrl: ResourceTypeUrl | undefined;
      readonly request: XdsDiscoveryRequest;
      readonly node: Uint8Array | undefined;
      readonly context: PortableContext;
    }
  | { readonly t: 'info'; readonly id: number; readonly info: WorkerInfo }
  | { readonly t: 'closed' };

/** The identity of an encoded resource within its type: same content, name and TTL give the same id. */
function resourceId(r: EncodedResource): string {
  return r.ttlMs === undefined ? `${r.hash} ${r.name}` : `${r.hash} ${r.name} ${r.ttlMs}`;
}

/**
 * What one worker holds: which snapshot each cache key is served, and the resources those snapshots use, each
 * counted by the snapshots that use it and dropped with the last. The primary keeps one per worker (values
 * `true`) and the worker the same (values: the rebuilt snapshots and resources), changed by the same `set` and
 * `clear` messages in the same order, so both agree on what the worker lacks.
 */
export class Holdings<S, R> {
  readonly #keys = new Map<string, number>();
  readonly #snapshots = new Map<number, { refs: number; resources: readonly string[]; value: S }>();
  readonly #resources = new Map<string, { refs: number; value: R }>();

  /** Snapshots held. */
  get snapshots(): number {
    return this.#snapshots.size;
  }

  /** Distinct resources held. */
  get resources(): number {
    return this.#resources.size;
  }

  /** The snapshot `key` is served, if any. */
  served(key: string): number | undefined {
    return this.#keys.get(key);
  }

  hasSnapshot(id: number): boolean {
    return this.#snapshots.has(id);
  }

  snapshot(id: number): S | undefined {
    return this.#snapshots.get(id)?.value;
  }

  resource(id: string): R | undefined {
    return this.#resources.get(id)?.value;
  }

  /** Adds a snapshot not held yet, with its resources (those not held are given by `make`). */
  addSnapshot(id: number, resources: readonly string[], value: S, make: (resourceId: string) => R): void {
    for (const r of resources) {
      const held = this.#resources.get(r);
      if (held === undefined) this.#resources.set(r, { refs: 1, value: make(r) });
      else held.refs++;
    }
    this.#snapshots.set(id, { refs: 0, resources, value });
  }

  /** Serves `key` the snapshot `id` (held), or nothing; drops what no key uses any more. */
  assign(key: string, id: number | undefined): void {
    const previous = this.#keys.get(key);
    if (previous === id) return;
    if (id === undefined) this.#keys.delete(key);
    else {
      this.#keys.set(key, id);
      this.#snapshots.get(id)!.refs++;
    }
    if (previous !== undefined) this.#release(previous);
  }

  /** One key fewer uses snapshot `id`: with the last, it is dropped, and the resources no other snapshot uses. */
  #release(id: number): void {
    const held = this.#snapshots.get(id)!;
    if (--held.refs > 0) return;
    this.#snapshots.delete(id);
    for (const r of held.resources) {
      const resource = this.#resources.get(r)!;
      if (--resource.refs === 0) this.#resources.delete(r);
    }
  }
}

/**
 * Describes a snapshot for a worker whose holdings are `held`, and records in `held` that the worker now holds
 * it. Bytes go only for resources the worker lacks.
 */
export function describeSnapshot(snapshot: Snapshot, id: number, held: Holdings<true, true>): SnapshotMessage {
  const types: [ResourceTypeUrl, string, ResourceRef[]][] = [];
  const bytes: [string, Uint8Array][] = [];
  const ids: string[] = [];
  for (const typeUrl of snapshot.typeUrls()) {
    const refs: ResourceRef[] = [];
    for (const r of snapshot.getResources(typeUrl).values()) {
      // Names are unique within a type, so an id appears once in a snapshot.
      const rid = `${typeUrl} ${resourceId(r)}`;
      refs.push([rid, r.name, r.hash, r.ttlMs]);
      if (held.resource(rid) === undefined) bytes.push([rid, r.bytes]);
      ids.push(rid);
    }
    types.push([typeUrl, snapshot.getVersion(typeUrl), refs]);
  }
  held.addSnapshot(id, ids, true, () => true);
  return { version: snapshot.version, types, bytes };
}

/** Rebuilds a described snapshot in a worker from the bytes it holds and those in the message; encodes nothing. */
export function rebuildSnapshot(message: SnapshotMessage, id: number, held: Holdings<Snapshot, EncodedResource>): Snapshot {
  const arrived = new Map(message.bytes);
  const ids: string[] = [];
  const types: [ResourceTypeUrl, string, EncodedResource[]][] = [];
  const made = new Map<string, EncodedResource>();
  for (const [typeUrl, version, refs] of message.types) {
    const resources: EncodedResource[] = [];
    for (const [rid, name, hash, ttlMs] of refs) {
      let resource = held.resource(rid) ?? made.get(rid);
      if (resource === undefined) {
        const bytes = arrived.get(rid);
        if (bytes === undefined) throw new Error(`worker protocol: the bytes of ${rid} were neither held nor sent`);
        resource = EncodedResource.fromEncoding(typeUrl, name, asBuffer(bytes), hash, ttlMs);
        made.set(rid, resource);
      }
      resources.push(resource);
      ids.push(rid);
    }
    types.push([typeUrl, version, resources]);
  }
  const snapshot = Snapshot.fromEncoded(message.version, types);
  held.addSnapshot(id, ids, snapshot, (rid) => made.get(rid)!);
  return snapshot;
}
