import { contentHash, decodeMessage, encodeMessage } from '../resource/codec.js';
import { getResourceName } from '../resource/resource-name.js';
import { validateEncodedContent } from '../resource/validate.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { encodeAny, encodeDeltaResource } from '../resource/wire.js';

/** Type URL of `envoy.service.discovery.v3.Resource`, the wrapper that carries a TTL in state-of-the-world responses. */
export const RESOURCE_WRAPPER_TYPE_URL = 'type.googleapis.com/envoy.service.discovery.v3.Resource';

/**
 * A resource encoded once: its bytes and content hash are computed when it enters a cache, and every response
 * that carries it, to any number of streams, reuses them. The Any and delta `Resource` framings are built on
 * first use and kept too.
 */
export class EncodedResource {
  /** The resource's name. */
  readonly name: string;
  /** Its type URL. */
  readonly typeUrl: ResourceTypeUrl;
  /** The resource as the application gave it, or for one rebuilt from its bytes, decoded on first use. */
  #resource: unknown;
  /** Its deterministic protobuf encoding. */
  readonly bytes: Buffer;
  /**
   * The resource's version in delta xDS: the content hash of `bytes`, with the TTL when there is one, so that a
   * TTL added, changed or dropped is a new version that reaches clients even when the content stays.
   */
  readonly hash: string;
  /** Content hash of `bytes` alone, shared by the same content under another name or TTL. */
  readonly #contentHash: string;
  /** Time to live in milliseconds, for resources that expire unless refreshed (heartbeats). */
  readonly ttlMs: number | undefined;
  #any: Buffer | undefined;
  #delta: Buffer | undefined;
  #sotw: Buffer | undefined;
  #sotwHeartbeat: Buffer | undefined;
  #deltaHeartbeat: Buffer | undefined;

  /** Number of resources encoded in this process so far (a test counts encodes with it). */
  static encodeCount = 0;

  private constructor(typeUrl: ResourceTypeUrl, name: string, resource: unknown, bytes: Buffer, ttlMs: number | undefined, contentHashOfBytes?: string) {
    this.typeUrl = typeUrl;
    this.name = name;
    this.#resource = resource;
    this.bytes = bytes;
    this.#contentHash = contentHashOfBytes ?? contentHash(bytes);
    this.hash = ttlMs === undefined ? this.#contentHash : `${this.#contentHash}+ttl${ttlMs}`;
    this.ttlMs = ttlMs;
  }

  /**
   * Validates and encodes a resource: its shape against its type, then Envoy's field rules. Throws a
   * `ResourceError` naming the resource, the field and the rule when it does not fit.
   *
   * @param options - `name` overrides the name read from the resource (needed for LEDS `LbEndpoint`s, which have
   *   none); `ttlMs` gives the resource a time to live
   */
  static encode(typeUrl: ResourceTypeUrl, resource: unknown, options: { name?: string | undefined; ttlMs?: number | undefined } = {}): EncodedResource {
    const bytes = encodeMessage(typeUrl, resource);
    EncodedResource.encodeCount++;
    const name = options.name ?? getResourceName(typeUrl, resource);
    const hash = contentHash(bytes);
    // Content that passed lately (the unchanged resources of a snapshot rebuilt in full) is not checked again.
    validateEncodedContent(typeUrl, bytes, hash, name);
    return new EncodedResource(typeUrl, name, resource, bytes, options.ttlMs, hash);
  }

  /**
   * A resource encoded elsewhere (by the primary process of the worker mode), rebuilt from its bytes and hash
   * without validating or encoding it again. Only the bytes travel: `resource` decodes them when first read.
   */
  static fromEncoding(typeUrl: ResourceTypeUrl, name: string, bytes: Buffer, hash: string, ttlMs: number | undefined): EncodedResource {
    return new EncodedResource(typeUrl, name, undefined, bytes, ttlMs, hash);
  }

  /**
   * The same encoded resource under another name or TTL, without encoding it again (the bytes and hash are
   * shared). Returns `this` when nothing changes.
   */
  with(options: { name?: string | undefined; ttlMs?: number | undefined }): EncodedResource {
    const name = options.name ?? this.name;
    const ttlMs = 'ttlMs' in options ? options.ttlMs : this.ttlMs;
    if (name === this.name && ttlMs === this.ttlMs) return this;
    return new EncodedResource(this.typeUrl, name, this.#resource, this.bytes, ttlMs, this.#contentHash);
  }

  /**
   * The resource in ProtoJSON shape: as the application gave it, or, for a resource rebuilt from its bytes
   * ({@link EncodedResource.fromEncoding}), decoded from them on first read (with proto field names) and kept.
   */
  get resource(): unknown {
    return (this.#resource ??= decodeMessage(this.typeUrl, this.bytes));
  }

  /** The resource as a `google.protobuf.Any` (the items of a state-of-the-world response). */
  get any(): Buffer {
    return (this.#any ??= encodeAny(this.typeUrl, this.bytes));
  }

  /** The resource as a delta `envoy.service.discovery.v3.Resource` (name, version = hash, Any, TTL). */
  get deltaResource(): Buffer {
    return (this.#delta ??= encodeDeltaResource(this.name, this.hash, this.any, this.ttlMs));
  }

  /**
   * The item of a state-of-the-world response: the plain Any, or for a resource with a TTL an Any holding an
   * `envoy.service.discovery.v3.Resource` with name, TTL and the resource (the only way SotW can carry a TTL).
   */
  get sotwAny(): Buffer {
    if (this.ttlMs === undefined) return this.any;
    return (this.#sotw ??= encodeAny(RESOURCE_WRAPPER_TYPE_URL, encodeDeltaResource(this.name, '', this.any, this.ttlMs)));
  }

  /** A state-of-the-world TTL heartbeat: the `Resource` wrapper with name and TTL and no body. */
  get sotwHeartbeat(): Buffer {
    return (this.#sotwHeartbeat ??= encodeAny(RESOURCE_WRAPPER_TYPE_URL, encodeDeltaResource(this.name, '', undefined, this.ttlMs)));
  }

  /** A delta TTL heartbeat: the `Resource` with name, version and TTL and no body, which refreshes the TTL. */
  get deltaHeartbeat(): Buffer {
    return (this.#deltaHeartbeat ??= encodeDeltaResource(this.name, this.hash, undefined, this.ttlMs));
  }
}
