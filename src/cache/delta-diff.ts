/**
 * What a delta stream must be sent: the rules of incremental xDS in one function, shared by the snapshot cache
 * and the linear cache.
 */
import type { DeltaWatchRequest } from './config-watcher.js';
import type { EncodedResource } from './encoded-resource.js';
import { globCollectionOf, isGlobCollection } from '../resource/resource-name.js';
import { TypeUrl } from '../resource/type-url.js';

/** The resources to send and the names to report removed. Empty arrays mean nothing to say. */
export interface DeltaDiff {
  /** New or changed resources for this client. */
  resources: EncodedResource[];
  /** Names the client holds or just subscribed to that do not exist. */
  removed: string[];
  /**
   * VHDS only: names just subscribed (`<route configuration>/<host>`) that match no virtual host. Envoy's on-demand
   * lookup completes (with a 404) only when told so by a `Resource` that carries the name as an alias and has no
   * body; `removed_resources` would leave the request waiting.
   */
  unresolved: string[];
}

/**
 * Compares what the client holds (`known`, name to content hash) with the current resources:
 * - a resource the client holds at the same hash is not sent again (the point of `initial_resource_versions`);
 * - a name newly subscribed mid-stream is answered even if unchanged (the client asked for it again), and a
 *   newly subscribed name that does not exist is reported removed, so the client need not wait for a timeout;
 * - a name the client holds that no longer exists is reported removed;
 * - `rejected` (name to hash) holds content the client NACKed: it is not sent again;
 * - for VHDS, a newly subscribed name that matches no virtual host is `unresolved` rather than removed;
 * - a subscribed `xdstp://` glob collection (`xdstp://authority/type/path/*`, as LEDS subscribes) stands for its
 *   members (`xdstp://authority/type/path/<id>`): they are sent as if subscribed by name, and the glob itself is
 *   never reported removed.
 *
 * @param only - restricts the comparison to these names (an update touched only them); all names when absent
 */
export function deltaDiff(
  items: ReadonlyMap<string, EncodedResource>,
  request: DeltaWatchRequest,
  rejected?: ReadonlyMap<string, string>,
  only?: Iterable<string>,
): DeltaDiff {
  const resources: EncodedResource[] = [];
  const removed: string[] = [];
  const unresolved: string[] = [];
  const onDemand = request.typeUrl === TypeUrl.VirtualHost;
  const picked = new Set<string>();
  const first = request.responseNonce === '';
  const newly = request.newlySubscribed.length > 0 ? new Set(request.newlySubscribed) : undefined;
  // A glob collection subscribed before or with this request. Asked per name considered, so that comparing a
  // few changed names does not scan every subscribed name for globs.
  const subscribedGlob = (name: string): boolean => request.subscribed.has(name) || newly?.has(name) === true;

  const consider = (name: string): void => {
    if (picked.has(name) || (isGlobCollection(name) && subscribedGlob(name))) return;
    const resource = items.get(name);
    const known = request.known.get(name);
    const glob = globCollectionOf(name);
    const inGlob = glob !== undefined && subscribedGlob(glob);
    if (resource === undefined) {
      if (known !== undefined || newly?.has(name) === true) {
        picked.add(name);
        if (onDemand && known === undefined) unresolved.push(name);
        else removed.push(name);
      }
      return;
    }
    if (!request.wildcard && !request.subscribed.has(name) && newly?.has(name) !== true && !inGlob) return;
    if (rejected?.get(name) === resource.hash) return;
    // On a new stream, `known` comes from initial_resource_versions: what the client has is not resent.
    const forced = !first && (newly?.has(name) === true || (glob !== undefined && newly?.has(glob) === true));
    if (known === resource.hash && !forced) return;
    picked.add(name);
    resources.push(resource);
  };

  if (only !== undefined) {
    for (const name of only) consider(name);
    return { resources, removed, unresolved };
  }
  let globs: Set<string> | undefined;
  for (const name of request.subscribed) if (isGlobCollection(name)) (globs ??= new Set()).add(name);
  if (newly !== undefined) for (const name of newly) if (isGlobCollection(name)) (globs ??= new Set()).add(name);
  if (globs === undefined && !onDemand) {
    return fullDiff(items, request, rejected, first, newly);
  } else {
    if (request.wildcard) for (const name of items.keys()) consider(name);
    else if (globs !== undefined) {
      for (const name of items.keys()) {
        const glob = globCollectionOf(name);
        if (glob !== undefined && globs.has(glob)) consider(name);
      }
    }
    for (const name of request.subscribed) consider(name);
    if (newly !== undefined) for (const name of newly) consider(name);
    for (const name of request.known.keys()) consider(name);
  }
  return { resources, removed, unresolved };
}

/**
 * The comparison over every name of interest, in the order wildcard items, subscribed names, newly subscribed
 * names, known names: the same decisions as `consider` above, each name decided once, without its lookups
 * repeated per list. This runs for every request of every delta stream (each ACK opens a watch), so it is kept
 * to one map lookup per resource in the common case; the pass over `known` is skipped when every known name
 * was already seen.
 */
function fullDiff(
  items: ReadonlyMap<string, EncodedResource>,
  request: DeltaWatchRequest,
  rejected: ReadonlyMap<string, string> | undefined,
  first: boolean,
  newly: ReadonlySet<string> | undefined,
): DeltaDiff {
  const resources: EncodedResource[] = [];
  const removed: string[] = [];
  const { known, subscribed, wildcard } = request;
  // A newly subscribed name is sent even when the client holds it, except on a new stream (initial versions).
  const forced = (name: string): boolean => !first && newly !== undefined && newly.has(name);
  // Known names seen in the passes below; when they are all of them, no known name can be missing.
  let knownSeen = 0;

  if (wildcard) {
    const stale = rejected === undefined && (first || newly === undefined) ? staleIfAllHeld(items, known) : undefined;
    if (stale !== undefined) {
      knownSeen = items.size;
      resources.push(...stale);
    } else {
      // forEach, here and below: a for-of over a map or set may allocate an iteration result per name.
      items.forEach((resource, name) => {
        const held = known.get(name);
        if (held !== undefined) knownSeen++;
        if (rejected !== undefined && rejected.get(name) === resource.hash) return;
        if (held === resource.hash && !forced(name)) return;
        resources.push(resource);
      });
    }
  }
  subscribed.forEach((name) => {
    const resource = items.get(name);
    const held = known.get(name);
    if (!wildcard && held !== undefined) knownSeen++;
    if (resource === undefined) {
      if (held !== undefined || newly?.has(name) === true) removed.push(name);
      return;
    }
    if (wildcard) return; // decided with the items
    if (rejected !== undefined && rejected.get(name) === resource.hash) return;
    if (held === resource.hash && !forced(name)) return;
    resources.push(resource);
  });
  if (newly !== undefined) {
    for (const name of newly) {
      if (subscribed.has(name)) continue; // decided with the subscribed names
      const resource = items.get(name);
      if (resource === undefined) {
        removed.push(name);
        continue;
      }
      if (wildcard) continue;
      if (rejected !== undefined && rejected.get(name) === resource.hash) continue;
      if (known.get(name) === resource.hash && first) continue;
      resources.push(resource);
    }
  }
  if (knownSeen < known.size) {
    // Names the client holds that are gone. Known names that exist were decided above, or are not wanted.
    for (const name of known.keys()) {
      if (items.has(name) || subscribed.has(name) || newly?.has(name) === true) continue;
      removed.push(name);
    }
  }
  return { resources, removed, unresolved: [] };
}

/**
 * When the client holds a version of every item (a reconnecting Envoy presents what it holds), the items whose
 * content differs from the version held, in the order of `items`; undefined when some item is not held. Walks
 * the client's versions and looks each name up in `items`, shared by every stream of the snapshot and so
 * likely in the processor's cache, rather than looking each item up in the stream's own map: several times
 * faster for thousands of names.
 */
function staleIfAllHeld(items: ReadonlyMap<string, EncodedResource>, known: ReadonlyMap<string, string>): EncodedResource[] | undefined {
  if (known.size < items.size || items.size === 0) return undefined;
  let held = 0;
  const stale: EncodedResource[] = [];
  known.forEach((version, name) => {
    const resource = items.get(name);
    if (resource === undefined) return;
    held++;
    if (resource.hash !== version) stale.push(resource);
  });
  if (held < items.size) return undefined;
  if (stale.length <= 1) return stale;
  const changed = new Set(stale);
  return [...items.values()].filter((resource) => changed.has(resource));
}

/**
 * True if a delta watch must be answered even when {@link deltaDiff} finds nothing to send:
 * - the first request of a wildcard subscription (CDS, LDS): Envoy finishes initializing it only on a first
 *   response, even an empty one;
 * - a request that newly subscribes to a glob collection (LEDS): Envoy waits likewise, and an empty collection
 *   has no member to send.
 * A NACK is never answered this way.
 */
export function mustAnswerDelta(request: DeltaWatchRequest): boolean {
  if (request.errorDetail !== undefined) return false;
  if (request.wildcard && request.responseNonce === '') return true;
  return request.newlySubscribed.some(isGlobCollection);
}
