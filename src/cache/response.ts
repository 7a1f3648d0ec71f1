import type { ResourceTypeUrl } from '../resource/type-url.js';
import { encodeDeltaDiscoveryResponseBody, encodeDiscoveryResponseBody, encodeUnresolvedAlias } from '../resource/wire.js';
import type { DeltaResponse, Response } from './config-watcher.js';
import type { EncodedResource } from './encoded-resource.js';

class SotwResponse implements Response {
  readonly typeUrl: ResourceTypeUrl;
  readonly version: string;
  readonly resources: readonly EncodedResource[];
  readonly heartbeat: boolean;
  #body: Buffer | undefined;
  #names: ReadonlySet<string> | undefined;

  constructor(typeUrl: ResourceTypeUrl, version: string, resources: readonly EncodedResource[], heartbeat: boolean, returned: ReadonlySet<string> | undefined) {
    this.typeUrl = typeUrl;
    this.version = version;
    this.resources = resources;
    this.heartbeat = heartbeat;
    this.#names = returned;
  }

  returnedNames(): ReadonlySet<string> {
    return (this.#names ??= new Set(this.resources.map((r) => r.name)));
  }

  body(): Buffer {
    if (this.#body === undefined) {
      const items = this.resources.map((r) => (this.heartbeat ? r.sotwHeartbeat : r.sotwAny));
      this.#body = encodeDiscoveryResponseBody(this.version, items, this.typeUrl);
    }
    return this.#body;
  }
}

class IncrementalResponse implements DeltaResponse {
  readonly typeUrl: ResourceTypeUrl;
  readonly systemVersion: string;
  readonly resources: readonly EncodedResource[];
  readonly removed: readonly string[];
  readonly unresolved: readonly string[];
  readonly heartbeat: boolean;
  readonly returnedState: unknown;
  #body: Buffer | undefined;

  constructor(
    typeUrl: ResourceTypeUrl,
    systemVersion: string,
    resources: readonly EncodedResource[],
    removed: readonly string[],
    heartbeat: boolean,
    unresolved: readonly string[],
    returnedState: unknown,
  ) {
    this.typeUrl = typeUrl;
    this.systemVersion = systemVersion;
    this.resources = resources;
    this.removed = removed;
    this.heartbeat = heartbeat;
    this.unresolved = unresolved;
    this.returnedState = returnedState;
  }

  body(): Buffer {
    if (this.#body === undefined) {
      const items = this.resources.map((r) => (this.heartbeat ? r.deltaHeartbeat : r.deltaResource));
      for (const name of this.unresolved) items.push(encodeUnresolvedAlias(name));
      this.#body = encodeDeltaDiscoveryResponseBody(this.systemVersion, items, this.typeUrl, this.removed);
    }
    return this.#body;
  }
}

/**
 * Builds a state-of-the-world {@link Response} whose body is assembled from the resources' cached bytes on first
 * use and then kept, so that one response object handed to many streams is assembled once. Resources with a TTL
 * go out wrapped in `envoy.service.discovery.v3.Resource`, as Envoy expects.
 *
 * For applications that write their own `ConfigWatcher`.
 *
 * @param heartbeat - send the TTL resources as heartbeats (name and TTL, no body)
 * @param returned - what the client holds once it has this response, when that is more than `resources`: a
 *   response that carries only what the client lacked (types whose responses need not be the full state) returns
 *   the names it carries and those the client kept. Default: the names of `resources`.
 */
export function createResponse(
  typeUrl: ResourceTypeUrl,
  version: string,
  resources: readonly EncodedResource[],
  heartbeat = false,
  returned?: ReadonlySet<string>,
): Response {
  return new SotwResponse(typeUrl, version, resources, heartbeat, returned);
}

/**
 * Builds a {@link DeltaResponse} with a memoized body. For applications that write their own `ConfigWatcher`.
 *
 * @param removed - names to send in `removed_resources`
 * @param heartbeat - send the resources as TTL heartbeats (name, version and TTL, no body)
 * @param unresolved - VHDS names that match no virtual host (sent as alias-only resources)
 */
export function createDeltaResponse(
  typeUrl: ResourceTypeUrl,
  systemVersion: string,
  resources: readonly EncodedResource[],
  removed: readonly string[] = [],
  heartbeat = false,
  unresolved: readonly string[] = [],
): DeltaResponse {
  return new IncrementalResponse(typeUrl, systemVersion, resources, removed, heartbeat, unresolved, undefined);
}

/**
 * A {@link DeltaResponse} that carries `returnedState`: what the cache compared to make it, which the server hands
 * back with the stream's next request of the type (see `DeltaWatchRequest.returnedState`). Internal to the caches.
 */
export function createDeltaResponseWithState(
  typeUrl: ResourceTypeUrl,
  systemVersion: string,
  resources: readonly EncodedResource[],
  removed: readonly string[],
  unresolved: readonly string[],
  returnedState: unknown,
): DeltaResponse {
  return new IncrementalResponse(typeUrl, systemVersion, resources, removed, false, unresolved, returnedState);
}
