/**
 * What a delta stream must be sent: the rules of incremental xDS in one function, shared by the snapshot cache
 * and the linear cache.
 */
import type { DeltaWatchRequest } from './config-watcher.js';
import type { EncodedResource } from './encoded-resource.js';

/** The resources to send and the names to report removed. Empty arrays mean nothing to say. */
export interface DeltaDiff {
  /** New or changed resources for this client. */
  resources: EncodedResource[];
  /** Names the client holds or just subscribed to that do not exist. */
  removed: string[];
}

/**
 * Compares what the client holds (`known`, name to content hash) with the current resources:
 * - a resource the client holds at the same hash is not sent again (the point of `initial_resource_versions`);
 * - a name newly subscribed mid-stream is answered even if unchanged (the client asked for it again), and a
 *   newly subscribed name that does not exist is reported removed, so the client need not wait for a timeout;
 * - a name the client holds that no longer exists is reported removed;
 * - `rejected` (name to hash) holds content the client NACKed: it is not sent again.
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
  const picked = new Set<string>();
  const first = request.responseNonce === '';
  const newly = request.newlySubscribed.length > 0 ? new Set(request.newlySubscribed) : undefined;

  const consider = (name: string): void => {
    if (picked.has(name)) return;
    const resource = items.get(name);
    const known = request.known.get(name);
    if (resource === undefined) {
      if (known !== undefined || newly?.has(name) === true) {
        picked.add(name);
        removed.push(name);
      }
      return;
    }
    if (!request.wildcard && !request.subscribed.has(name) && newly?.has(name) !== true) return;
    if (rejected?.get(name) === resource.hash) return;
    // On a new stream, `known` comes from initial_resource_versions: what the client has is not resent.
    const forced = !first && newly?.has(name) === true;
    if (known === resource.hash && !forced) return;
    picked.add(name);
    resources.push(resource);
  };

  if (only !== undefined) {
    for (const name of only) consider(name);
  } else {
    if (request.wildcard) for (const name of items.keys()) consider(name);
    for (const name of request.subscribed) consider(name);
    if (newly !== undefined) for (const name of newly) consider(name);
    for (const name of request.known.keys()) consider(name);
  }
  return { resources, removed };
}
