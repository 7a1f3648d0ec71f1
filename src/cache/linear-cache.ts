/**
 * The linear cache: one collection of resources of a single type, shared by every node, updated resource by
 * resource, as go-control-plane's `LinearCache`. Suited to EDS or LEDS for a whole fleet, combined with other
 * caches through a `MuxCache`.
 */
import { getResourceName, globCollectionOf } from '../resource/resource-name.js';
import { TYPE_SHORT_NAME, type ResourceTypeMap, type ResourceTypeUrl } from '../resource/type-url.js';
import { Code, XdsError } from '../resource/xds-error.js';
import type { CancelWatch, ConfigWatcher, DeltaResponse, DeltaWatchRequest, Response, WatchRequest } from './config-watcher.js';
import { deltaDiff, mustAnswerDelta } from './delta-diff.js';
import { EncodedResource } from './encoded-resource.js';
import { silentLogger, type Logger } from '../logger.js';
import { TypeResources } from './type-resources.js';

/** Resources by name: a plain object, a `Map`, or pairs. */
export type NamedResources<T> = Readonly<Record<string, T | EncodedResource>> | ReadonlyMap<string, T | EncodedResource> | Iterable<readonly [string, T | EncodedResource]>;

/** Options of {@link LinearCache}. */
export interface LinearCacheOptions<T> {
  /** Resources to start with, by name (their version is the initial version, `versionPrefix + "0"`). */
  initialResources?: NamedResources<T>;
  /**
   * Prefix of the versions sent to clients (`prefix` + a counter), as go-control-plane's `WithVersionPrefix`:
   * give each process its own (a start time, say) so that a client reconnecting to another replica never
   * mistakes its counter for this one's.
   */
  versionPrefix?: string;
  /** Where decisions are logged. Default: nowhere. */
  logger?: Logger;
}

interface LinearWatch {
  readonly request: WatchRequest;
  readonly respond: (response: Response) => void;
  done: boolean;
}

interface LinearDeltaWatch {
  readonly request: DeltaWatchRequest;
  readonly respond: (response: DeltaResponse) => void;
  done: boolean;
  /** True while indexed (counted, and reachable from updates). */
  parked: boolean;
  rejected: ReadonlyMap<string, string> | undefined;
}

function entries<T>(resources: NamedResources<T>): Iterable<readonly [string, T | EncodedResource]> {
  if (resources instanceof Map) return resources.entries();
  if (Symbol.iterator in (resources as object)) return resources as Iterable<readonly [string, T | EncodedResource]>;
  return Object.entries(resources as Record<string, T | EncodedResource>);
}

function addTo<W>(index: Map<string, Set<W>>, name: string, watch: W): void {
  let set = index.get(name);
  if (set === undefined) {
    set = new Set();
    index.set(name, set);
  }
  set.add(watch);
}

function removeFrom<W>(index: Map<string, Set<W>>, name: string, watch: W): void {
  const set = index.get(name);
  if (set === undefined) return;
  set.delete(watch);
  if (set.size === 0) index.delete(name);
}

/**
 * A single-type collection of resources served to every node. Each update bumps one version counter, and only
 * the watches that subscribe to a changed name (plus wildcard watches) are looked at: watches are indexed by
 * resource name, so an update costs what changed and who cares, not the size of the cache.
 *
 * State of the world: the version sent is `versionPrefix` + counter; a response carries every subscribed
 * resource (all of them for a wildcard), shared among watches with the same subscription; a client at the
 * current version that lacks some of the names it subscribes to is sent only those, as {@link SnapshotCache}
 * does (for named subscriptions to types whose responses need not be the full state). The first request of
 * a stream is always answered; a NACK is not answered with the version it rejected. Delta: per-resource
 * versions are content hashes, as in {@link SnapshotCache}.
 *
 * An update whose content equals what the cache holds changes nothing and wakes no one.
 *
 * Unlike go-control-plane there are no TTLs here, and `fetch` is implemented.
 *
 * @typeParam K - the type URL, which types the resources (`new LinearCache(TypeUrl.Endpoint)` takes
 *   ClusterLoadAssignments)
 */
export class LinearCache<K extends ResourceTypeUrl = ResourceTypeUrl> implements ConfigWatcher {
  /** The one type this cache serves. */
  readonly typeUrl: K;
  readonly #prefix: string;
  readonly #log: Logger;
  #items = new Map<string, EncodedResource>();
  readonly #versions = new Map<string, number>();
  #counter = 0;
  // A view of the current resources with its shared responses; dropped on every change. It owns the map it was
  // made over, so the next change copies the map first (TypeResources' contract: its items never change).
  #view: TypeResources | undefined;
  readonly #byName = new Map<string, Set<LinearWatch>>();
  readonly #wildcard = new Set<LinearWatch>();
  #sotwCount = 0;
  readonly #deltaByName = new Map<string, Set<LinearDeltaWatch>>();
  readonly #deltaWildcard = new Set<LinearDeltaWatch>();
  #deltaCount = 0;

  /**
   * @param typeUrl - the type of every resource in the cache
   * @param options - initial resources, version prefix, logger
   */
  constructor(typeUrl: K, options: LinearCacheOptions<ResourceTypeMap[K]> = {}) {
    this.typeUrl = typeUrl;
    this.#prefix = options.versionPrefix ?? '';
    this.#log = options.logger ?? silentLogger;
    if (options.initialResources !== undefined) {
      for (const [name, resource] of entries(options.initialResources)) {
        this.#items.set(name, this.#encode(name, resource));
        this.#versions.set(name, 0);
      }
    }
  }

  /** The version clients are sent now: `versionPrefix` + the update counter. */
  get version(): string {
    return this.#prefix + String(this.#counter);
  }

  #encode(name: string, resource: ResourceTypeMap[K] | EncodedResource): EncodedResource {
    if (typeof name !== 'string' || name === '') throw new XdsError(Code.INVALID_ARGUMENT, `a resource of the ${TYPE_SHORT_NAME[this.typeUrl]} cache needs a non-empty name`);
    let encoded: EncodedResource;
    if (resource instanceof EncodedResource) {
      if (resource.typeUrl !== this.typeUrl) {
        throw new XdsError(Code.INVALID_ARGUMENT, `a ${resource.typeUrl} resource was given to the ${TYPE_SHORT_NAME[this.typeUrl]} cache`);
      }
      encoded = resource.with({ name });
    } else {
      if (resource === null || typeof resource !== 'object') {
        throw new XdsError(Code.INVALID_ARGUMENT, `resource "${name}" of the ${TYPE_SHORT_NAME[this.typeUrl]} cache must be an object, got ${String(resource)}`);
      }
      encoded = EncodedResource.encode(this.typeUrl, resource, { name });
    }
    const own = resource instanceof EncodedResource ? resource.name : getResourceName(this.typeUrl, resource);
    if (own !== '' && own !== name) {
      // SotW clients read the name inside the resource; a different key would leave their subscription unanswered.
      throw new XdsError(Code.INVALID_ARGUMENT, `resource "${own}" was stored under the different name "${name}"; use its own name`);
    }
    return encoded;
  }

  #current(): TypeResources {
    return (this.#view ??= new TypeResources(this.typeUrl, this.version, this.#items));
  }

  /** Adds or replaces one resource. Throws a `ResourceError` (and changes nothing) if it does not fit the type. */
  updateResource(name: string, resource: ResourceTypeMap[K] | EncodedResource): void {
    this.#apply([[name, this.#encode(name, resource)]]);
  }

  /** Removes one resource (nothing happens if it is absent). */
  deleteResource(name: string): void {
    this.#apply([[name, undefined]]);
  }

  /**
   * Adds, replaces and removes resources in one step: one version, and each watch answered at most once. All
   * resources are validated before anything changes.
   */
  updateResources(toUpdate: NamedResources<ResourceTypeMap[K]>, toDelete: Iterable<string> = []): void {
    const changes: [string, EncodedResource | undefined][] = [];
    for (const [name, resource] of entries(toUpdate)) changes.push([name, this.#encode(name, resource)]);
    for (const name of toDelete) changes.push([name, undefined]);
    this.#apply(changes);
  }

  /** Replaces the whole collection: what is not given is removed. Unchanged resources wake no one. */
  setResources(resources: NamedResources<ResourceTypeMap[K]>): void {
    const changes: [string, EncodedResource | undefined][] = [];
    const keep = new Set<string>();
    for (const [name, resource] of entries(resources)) {
      changes.push([name, this.#encode(name, resource)]);
      keep.add(name);
    }
    for (const name of this.#items.keys()) if (!keep.has(name)) changes.push([name, undefined]);
    this.#apply(changes);
  }

  /** The resources as given, by name (a copy of the index). */
  getResources(): Map<string, ResourceTypeMap[K]> {
    const out = new Map<string, ResourceTypeMap[K]>();
    for (const [name, encoded] of this.#items) out.set(name, encoded.resource as ResourceTypeMap[K]);
    return out;
  }

  /** The number of resources. */
  get numResources(): number {
    return this.#items.size;
  }

  /**
   * Open state-of-the-world watches: those that would wake for `name` (its subscribers and the wildcard ones),
   * or all of them.
   */
  numWatches(name?: string): number {
    if (name === undefined) return this.#sotwCount;
    return (this.#byName.get(name)?.size ?? 0) + this.#wildcard.size;
  }

  /** Open delta watches: those that would wake for `name`, or all of them. */
  numDeltaWatches(name?: string): number {
    if (name === undefined) return this.#deltaCount;
    return (this.#deltaByName.get(name)?.size ?? 0) + this.#deltaWildcard.size;
  }

  #apply(changes: readonly (readonly [string, EncodedResource | undefined])[]): void {
    if (this.#view !== undefined && changes.some(([name, encoded]) => this.#items.get(name)?.hash !== encoded?.hash)) {
      this.#items = new Map(this.#items);
      this.#view = undefined;
    }
    const changed: string[] = [];
    const version = this.#counter + 1;
    for (const [name, encoded] of changes) {
      const current = this.#items.get(name);
      if (encoded === undefined) {
        if (current === undefined) continue;
        this.#items.delete(name);
        this.#versions.delete(name);
      } else {
        if (current !== undefined && current.hash === encoded.hash) continue;
        this.#items.set(name, encoded);
        this.#versions.set(name, version);
      }
      changed.push(name);
    }
    if (changed.length === 0) return;
    this.#counter = version;
    this.#view = undefined;
    this.#notify(changed);
  }

  #notify(changed: readonly string[]): void {
    const woken = new Set<LinearWatch>();
    for (const name of changed) {
      const set = this.#byName.get(name);
      if (set !== undefined) for (const w of set) woken.add(w);
    }
    for (const w of this.#wildcard) woken.add(w);
    if (woken.size > 0) {
      const t = this.#current();
      for (const w of woken) this.#answer(w, t.response(w.request.wildcard, w.request.resourceNames));
    }

    // Each woken delta watch is compared on the changed names it cares about, found through the index: an update
    // costs the changes plus the watches they wake, not changes × watches.
    const concerned = new Map<LinearDeltaWatch, string[]>();
    const concern = (set: Set<LinearDeltaWatch> | undefined, name: string): void => {
      if (set === undefined) return;
      for (const w of set) {
        const names = concerned.get(w);
        if (names === undefined) concerned.set(w, [name]);
        else names.push(name);
      }
    };
    for (const name of changed) {
      concern(this.#deltaByName.get(name), name);
      // Watches subscribed to the glob collection of the name (LEDS) are indexed under the glob.
      const glob = globCollectionOf(name);
      if (glob !== undefined) concern(this.#deltaByName.get(glob), name);
    }
    // A parked delta watch had nothing to receive before this change, so only the changed names can differ now.
    for (const w of [...this.#deltaWildcard]) this.#reviewDelta(w, changed);
    for (const [w, names] of concerned) if (!w.done) this.#reviewDelta(w, names);
  }

  #park(watch: LinearWatch): CancelWatch {
    const { request } = watch;
    this.#sotwCount++;
    if (request.wildcard) this.#wildcard.add(watch);
    else for (const name of request.resourceNames) addTo(this.#byName, name, watch);
    return () => this.#unpark(watch);
  }

  #unpark(watch: LinearWatch): void {
    if (watch.done) return;
    watch.done = true;
    this.#sotwCount--;
    if (watch.request.wildcard) this.#wildcard.delete(watch);
    else for (const name of watch.request.resourceNames) removeFrom(this.#byName, name, watch);
  }

  #answer(watch: LinearWatch, response: Response): void {
    this.#unpark(watch);
    try {
      watch.respond(response);
    } catch (error) {
      this.#log.error({ typeUrl: this.typeUrl, err: error }, 'a watch failed to take its response; the others are answered');
    }
  }

  #checkType(typeUrl: string): void {
    if (typeUrl !== this.typeUrl) {
      throw new XdsError(Code.INVALID_ARGUMENT, `this cache serves only ${this.typeUrl}, not ${typeUrl}; route types to caches with a MuxCache`);
    }
  }

  /** True if a SotW client at `request.versionInfo` lacks something it subscribes to. */
  #stale(request: WatchRequest): boolean {
    if (request.versionInfo === this.version) {
      // Same counter: only a subscription to a name the client has not been sent yet can need an answer.
      const known = request.knownNames;
      if (known === undefined) return false;
      if (request.wildcard) {
        for (const name of this.#items.keys()) if (!known.has(name)) return true;
      }
      for (const name of request.resourceNames) if (this.#items.has(name) && !known.has(name)) return true;
      return false;
    }
    if (request.wildcard) return true;
    const rest = request.versionInfo.startsWith(this.#prefix) ? request.versionInfo.slice(this.#prefix.length) : '';
    const last = /^\d+$/.test(rest) ? Number(rest) : Number.NaN;
    // Not one of this cache's versions (another process, or garbage): send everything subscribed.
    if (!(last <= this.#counter)) return true;
    for (const name of request.resourceNames) {
      if ((this.#versions.get(name) ?? -1) > last) return true;
    }
    if (request.knownNames !== undefined) {
      for (const name of request.resourceNames) if (this.#items.has(name) && !request.knownNames.has(name)) return true;
      // A known name now gone: full-state types (listeners, clusters) must say so by leaving it out.
      for (const name of request.knownNames) if (!this.#items.has(name)) return true;
    }
    return false;
  }

  /** Opens a state-of-the-world watch. Throws `INVALID_ARGUMENT` for another type. */
  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch {
    this.#checkType(request.typeUrl);
    const watch: LinearWatch = { request, respond, done: false };
    let answer: boolean;
    if (!request.wildcard && request.resourceNames.length === 0) {
      // Subscribed to nothing (grpc-js unsubscribes everything before closing): nothing to receive, ever.
      answer = false;
    } else if (request.errorDetail !== undefined) {
      answer = this.version !== (request.rejectedVersion ?? this.version);
    } else {
      answer = request.responseNonce === '' || this.#stale(request);
    }
    if (answer) {
      watch.done = true;
      const t = this.#current();
      // A client at the current version lacks only some names it subscribes to: it is sent what it lacks.
      const lacking = request.responseNonce !== '' && request.errorDetail === undefined && request.versionInfo === this.version && request.knownNames !== undefined;
      respond(lacking ? t.catchUp(request.wildcard, request.resourceNames, request.knownNames!) : t.response(request.wildcard, request.resourceNames));
      return () => undefined;
    }
    return this.#park(watch);
  }

  #parkDelta(watch: LinearDeltaWatch): CancelWatch {
    const { request } = watch;
    watch.parked = true;
    this.#deltaCount++;
    // A wildcard watch wakes on every change, so it needs no index by name.
    if (request.wildcard) {
      this.#deltaWildcard.add(watch);
      return () => this.#unparkDelta(watch);
    }
    for (const name of request.subscribed) addTo(this.#deltaByName, name, watch);
    // Names the client holds without subscribing to them still need their removals.
    for (const name of request.known.keys()) if (!request.subscribed.has(name)) addTo(this.#deltaByName, name, watch);
    return () => this.#unparkDelta(watch);
  }

  #unparkDelta(watch: LinearDeltaWatch): void {
    watch.done = true;
    if (!watch.parked) return;
    watch.parked = false;
    this.#deltaCount--;
    const { request } = watch;
    if (request.wildcard) {
      this.#deltaWildcard.delete(watch);
      return;
    }
    for (const name of request.subscribed) removeFrom(this.#deltaByName, name, watch);
    for (const name of request.known.keys()) if (!request.subscribed.has(name)) removeFrom(this.#deltaByName, name, watch);
  }

  /** Answers a delta watch if it has something to receive; returns true if it did. */
  #reviewDelta(watch: LinearDeltaWatch, only?: readonly string[]): boolean {
    const { request } = watch;
    const diff = deltaDiff(this.#items, request, watch.rejected, only);
    if (diff.resources.length === 0 && diff.removed.length === 0 && diff.unresolved.length === 0 && !(only === undefined && mustAnswerDelta(request))) return false;
    this.#unparkDelta(watch);
    try {
      watch.respond(this.#current().deltaResponse(diff.resources, diff.removed, false, diff.unresolved));
    } catch (error) {
      this.#log.error({ typeUrl: this.typeUrl, err: error }, 'a delta watch failed to take its response; the others are answered');
    }
    return true;
  }

  /** Opens a delta watch. Throws `INVALID_ARGUMENT` for another type. */
  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch {
    this.#checkType(request.typeUrl);
    const watch: LinearDeltaWatch = { request, respond, done: false, parked: false, rejected: undefined };
    if (request.errorDetail !== undefined) {
      // What the client would be sent now is what it rejected: never send it that again.
      watch.rejected = new Map(deltaDiff(this.#items, request).resources.map((r) => [r.name, r.hash]));
    } else if (this.#reviewDelta(watch)) {
      return () => undefined;
    }
    return this.#parkDelta(watch);
  }

  /** Answers a REST or `Fetch…` request: the subscribed resources if the version differs, else `undefined`. */
  fetch(request: WatchRequest): Response | undefined {
    this.#checkType(request.typeUrl);
    if (request.versionInfo === this.version) return undefined;
    return this.#current().response(request.wildcard, request.resourceNames);
  }
}
