/**
 * Resource warming (the xDS protocol's "Resource warming" section): Envoy does not use a cluster it receives
 * until it has also received the cluster's endpoints. A changed cluster replaces the old one, and the new one
 * waits for a ClusterLoadAssignment even when the assignment did not change and the client already holds it.
 * Over ADS Envoy keeps its subscription to that assignment, so it asks for nothing new: in state-of-the-world
 * it repeats its last EDS request word for word, in delta it sends no EDS request at all. Unless the server
 * sends the assignment again, the cluster warms until `initial_fetch_timeout` (15 s by default), or forever
 * when that timeout is 0.
 *
 * So an ADS stream that sends a new or changed EDS cluster forgets that the client holds that cluster's
 * assignment, and the cache sends it again: in state-of-the-world as the answer to the repeated request, in
 * delta unasked. Only those assignments, only to that stream. Per-type streams need nothing: Envoy opens a
 * new EDS stream for the new cluster, whose first request is always answered.
 *
 * Listeners and their routes need nothing of the kind: Envoy shares one RDS subscription per route
 * configuration name, and a new listener that names a route configuration Envoy holds starts with it (see
 * docs/envoy-tests.md for what was measured).
 */
import type { EncodedResource } from '../cache/encoded-resource.js';
import { getResourceReferences } from '../resource/references.js';
import { TypeUrl } from '../resource/type-url.js';

/** The ClusterLoadAssignment names that the given clusters take their endpoints from (EDS clusters only). */
export function endpointNamesOf(clusters: readonly EncodedResource[]): ReadonlySet<string> {
  if (clusters.length === 0) return EMPTY;
  return getResourceReferences({ [TypeUrl.Cluster]: clusters.map((cluster) => cluster.resource) }).get(TypeUrl.Endpoint) ?? EMPTY;
}

const EMPTY: ReadonlySet<string> = new Set();

/**
 * The clusters of `next` that are new or changed since `previous` (two state-of-the-world CDS responses), and
 * the assignments they take their endpoints from. The last pair is remembered: the streams of one update go
 * from the same response to the same next one, so the comparison is made once per update, not once per stream.
 */
export function changedEndpointNames(previous: readonly EncodedResource[], next: readonly EncodedResource[]): ReadonlySet<string> {
  if (lastPair !== undefined && lastPair.previous === previous && lastPair.next === next) return lastPair.names;
  const before = new Map<string, string>();
  for (const resource of previous) before.set(resource.name, resource.hash);
  const changed = next.filter((resource) => before.get(resource.name) !== resource.hash);
  const names = endpointNamesOf(changed);
  lastPair = { previous, next, names };
  return names;
}

let lastPair: { previous: readonly EncodedResource[]; next: readonly EncodedResource[]; names: ReadonlySet<string> } | undefined;
