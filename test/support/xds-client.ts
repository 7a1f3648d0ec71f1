// A raw xDS client for tests: speaks the discovery protocol over grpc-js with no xDS logic of its own, so tests
// can send exactly the requests they mean (stale nonces, NACKs, garbage bytes) and read every response.
import { Client, credentials, Metadata, status as Status } from '@grpc/grpc-js';
import type { ChannelCredentials, ClientDuplexStream, StatusObject } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, getResourceName, lookupType, TypeUrl } from '../../src/resource/index.js';
import type { JsonMessage } from '../../src/resource/index.js';
import { methodPath, XDS_SERVICES } from '../../src/server/service-definitions.js';
import type { XdsMethodKind } from '../../src/server/service-definitions.js';

/** A resource of a response, decoded. */
export interface ReceivedResource {
  typeUrl: string;
  name: string;
  /** The resource in ProtoJSON shape (proto field names). */
  value: JsonMessage;
  /** Delta only: the resource's version (content hash). */
  version?: string;
  /** The resource's TTL in milliseconds, when it has one (SotW: wrapped in a discovery `Resource`). */
  ttlMs?: number;
  /** True for a TTL heartbeat: the name and TTL without the resource (absent otherwise). */
  heartbeat?: boolean;
}

const RESOURCE_WRAPPER = 'type.googleapis.com/envoy.service.discovery.v3.Resource';

interface DecodedWrapper {
  name: string;
  version: string;
  resource?: { type_url: string; value: Uint8Array } | null;
  ttl?: { seconds: number | { toNumber(): number }; nanos: number } | null;
}

function ttlMsOf(wrapper: DecodedWrapper): number | undefined {
  if (!wrapper.ttl) return undefined;
  return Number(wrapper.ttl.seconds) * 1000 + wrapper.ttl.nanos / 1e6;
}

/** A state-of-the-world response, decoded. */
export interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: ReceivedResource[];
  /** Names of the resources, in order. */
  names: string[];
}

/** A delta response, decoded. */
export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: ReceivedResource[];
  names: string[];
  removed_resources: string[];
}

function decodeAny(any: { type_url: string; value: Uint8Array }): ReceivedResource {
  if (any.type_url === RESOURCE_WRAPPER) {
    // A SotW resource with a TTL, or a TTL heartbeat (no resource).
    const wrapper = lookupType('envoy.service.discovery.v3.Resource').decode(any.value) as unknown as DecodedWrapper;
    const ttlMs = ttlMsOf(wrapper);
    const inner = wrapper.resource ? decodeAny(wrapper.resource) : undefined;
    return { typeUrl: inner?.typeUrl ?? '', name: wrapper.name, value: inner?.value ?? {}, ...(ttlMs === undefined ? {} : { ttlMs }), ...(inner ? {} : { heartbeat: true }) };
  }
  const value = decodeMessage(any.type_url, any.value);
  return { typeUrl: any.type_url, name: getResourceName(any.type_url, value), value };
}

/** Decodes DiscoveryResponse bytes. */
export function decodeSotwResponse(bytes: Buffer): SotwResponse {
  const message = lookupType(TypeUrl.DiscoveryResponse).decode(bytes) as unknown as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: { type_url: string; value: Uint8Array }[];
  };
  const resources = message.resources.map(decodeAny);
  return { version_info: message.version_info, type_url: message.type_url, nonce: message.nonce, resources, names: resources.map((r) => r.name) };
}

/** Decodes DeltaDiscoveryResponse bytes. */
export function decodeDeltaResponse(bytes: Buffer): DeltaResponse {
  const message = lookupType(TypeUrl.DeltaDiscoveryResponse).decode(bytes) as unknown as {
    system_version_info: string;
    type_url: string;
    nonce: string;
    resources: DecodedWrapper[];
    removed_resources: string[];
  };
  const resources = message.resources.map((r): ReceivedResource => {
    const ttlMs = ttlMsOf(r);
    const ttl = ttlMs === undefined ? {} : { ttlMs };
    if (r.resource) return { ...decodeAny(r.resource), name: r.name, version: r.version, ...ttl };
    return { typeUrl: message.type_url, name: r.name, value: {}, version: r.version, ...ttl, ...(ttlMs === undefined ? {} : { heartbeat: true }) };
  });
  return {
    system_version_info: message.system_version_info,
    type_url: message.type_url,
    nonce: message.nonce,
    resources,
    names: resources.map((r) => r.name),
    removed_resources: [...message.removed_resources],
  };
}

/** A request to send: an object in DiscoveryRequest / DeltaDiscoveryRequest shape, or raw bytes. */
export type Outgoing = Record<string, unknown> | Buffer;

/** Where a stream goes: ADS (default) or the service of one type. */
export interface StreamTarget {
  /** Type whose own service to use; undefined for ADS. */
  typeUrl?: string | undefined;
}

function pathFor(kind: XdsMethodKind, typeUrl: string | undefined): string {
  const info = XDS_SERVICES.find((s) => s.typeUrl === typeUrl);
  const method = info?.methods[kind];
  if (info === undefined || method === undefined) throw new Error(`no ${kind} method for ${typeUrl ?? 'ADS'}`);
  return methodPath(info.service, method);
}

class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: { resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  #ended: Error | undefined;

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  end(error: Error): void {
    this.#ended = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  get size(): number {
    return this.#items.length;
  }

  next(timeoutMs: number): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (v: T) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}

/** One bidirectional xDS stream (SotW or delta). */
export class RawStream<R extends { nonce: string; type_url: string }> {
  readonly call: ClientDuplexStream<Buffer, R>;
  readonly #inbox = new Inbox<R>();
  readonly #kind: 'sotw' | 'delta';
  /** Resolves with the stream's final status. */
  readonly status: Promise<StatusObject>;
  /** Every response received, in order. */
  readonly received: R[] = [];

  constructor(call: ClientDuplexStream<Buffer, R>, kind: 'sotw' | 'delta') {
    this.call = call;
    this.#kind = kind;
    call.on('data', (response: R) => {
      this.received.push(response);
      this.#inbox.push(response);
    });
    // Errors arrive with the status too; the listener keeps them from being unhandled.
    call.on('error', () => {});
    this.status = new Promise((resolve) => {
      call.on('status', (status: StatusObject) => {
        this.#inbox.end(new Error(`stream ended: ${Status[status.code]} ${status.details}`));
        resolve(status);
      });
    });
  }

  /** Sends a request (an object, encoded here, or raw bytes). */
  send(request: Outgoing): void {
    const message = this.#kind === 'sotw' ? TypeUrl.DiscoveryRequest : TypeUrl.DeltaDiscoveryRequest;
    this.call.write(Buffer.isBuffer(request) ? request : encodeMessage(message, request));
  }

  /** The next response (waits up to `timeoutMs`). */
  next(timeoutMs = 2000): Promise<R> {
    return this.#inbox.next(timeoutMs);
  }

  /** Resolves if no response arrives within `ms`; rejects with the response otherwise. */
  async nothingWithin(ms = 200): Promise<void> {
    try {
      const response = await this.#inbox.next(ms);
      throw new Error(`unexpected response: ${JSON.stringify({ type: response.type_url, nonce: response.nonce })}`);
    } catch (error) {
      if ((error as Error).message.startsWith('no response within')) return;
      throw error;
    }
  }

  /** Responses received and not yet taken with `next()`. */
  get queued(): number {
    return this.#inbox.size;
  }

  /** Half-closes (the server then ends the stream with OK). */
  end(): void {
    this.call.end();
  }

  /** Cancels the call. */
  cancel(): void {
    this.call.cancel();
  }
}

/** A SotW stream with ACK and NACK helpers. */
export class SotwStream extends RawStream<SotwResponse> {
  /** ACKs a response, keeping (or changing) the subscription. */
  ack(response: SotwResponse, resourceNames: string[] = [], extra: Record<string, unknown> = {}): void {
    this.send({ type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce, resource_names: resourceNames, ...extra });
  }

  /** NACKs a response with an error message, reporting `currentVersion` as the version still in use. */
  nack(response: SotwResponse, message: string, currentVersion = '', resourceNames: string[] = []): void {
    this.send({
      type_url: response.type_url,
      version_info: currentVersion,
      response_nonce: response.nonce,
      resource_names: resourceNames,
      error_detail: { code: Status.INVALID_ARGUMENT, message },
    });
  }
}

/** A delta stream with ACK and NACK helpers. */
export class DeltaStream extends RawStream<DeltaResponse> {
  ack(response: DeltaResponse, extra: Record<string, unknown> = {}): void {
    this.send({ type_url: response.type_url, response_nonce: response.nonce, ...extra });
  }

  nack(response: DeltaResponse, message: string): void {
    this.send({ type_url: response.type_url, response_nonce: response.nonce, error_detail: { code: Status.INVALID_ARGUMENT, message } });
  }
}

/** A client of one xDS server. */
export class XdsTestClient {
  readonly client: Client;
  readonly #streams = new Set<{ cancel(): void; status: Promise<unknown> }>();

  constructor(address: string, creds: ChannelCredentials = credentials.createInsecure(), options: Record<string, number | string> = {}) {
    this.client = new Client(address, creds, options);
  }

  /** Opens a SotW stream on ADS or on a type's own service. */
  sotw(target: StreamTarget = {}, metadata: Metadata = new Metadata()): SotwStream {
    const call = this.client.makeBidiStreamRequest(pathFor('sotw', target.typeUrl), (b: Buffer) => b, decodeSotwResponse, metadata);
    return this.#track(new SotwStream(call, 'sotw'));
  }

  /** Opens a delta stream on ADS or on a type's own service. */
  delta(target: StreamTarget = {}, metadata: Metadata = new Metadata()): DeltaStream {
    const call = this.client.makeBidiStreamRequest(pathFor('delta', target.typeUrl), (b: Buffer) => b, decodeDeltaResponse, metadata);
    return this.#track(new DeltaStream(call, 'delta'));
  }

  // Streams are kept until they end, so that close() can cancel them, and no longer (churn tests open thousands).
  #track<S extends { cancel(): void; status: Promise<unknown> }>(stream: S): S {
    this.#streams.add(stream);
    void stream.status.then(() => this.#streams.delete(stream));
    return stream;
  }

  /** Calls a type's `Fetch…` method. */
  fetch(typeUrl: string, request: Outgoing, metadata: Metadata = new Metadata()): Promise<SotwResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        pathFor('fetch', typeUrl),
        (b: Buffer) => b,
        decodeSotwResponse,
        Buffer.isBuffer(request) ? request : encodeMessage(TypeUrl.DiscoveryRequest, request),
        metadata,
        (error, response) => (error ? reject(error) : resolve(response as SotwResponse)),
      );
    });
  }

  /** Cancels every stream and closes the channel. */
  close(): void {
    for (const stream of this.#streams) stream.cancel();
    this.client.close();
  }
}
