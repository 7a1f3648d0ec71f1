import { TypeUrl } from './type-url.js';

/**
 * The name of a resource, as go-control-plane's `GetResourceName`: `cluster_name` for a ClusterLoadAssignment,
 * `name` for every other type. Resources without a name field (LEDS `LbEndpoint`) return `''`: give those a
 * name explicitly where they are stored.
 *
 * @param typeUrl - the resource's type URL (see {@link TypeUrl})
 * @param resource - the resource in ProtoJSON shape (proto or lowerCamel field names)
 */
export function getResourceName(typeUrl: string, resource: unknown): string {
  if (resource === null || typeof resource !== 'object') return '';
  const record = resource as Record<string, unknown>;
  const value = typeUrl === TypeUrl.Endpoint ? record['cluster_name'] ?? record['clusterName'] : typeUrl === TypeUrl.LbEndpoint ? undefined : record['name'];
  return typeof value === 'string' ? value : '';
}

const XDSTP = 'xdstp://';

/**
 * The glob collection an `xdstp://` resource name belongs to: `xdstp://authority/type/path/id?params` belongs to
 * `xdstp://authority/type/path/*?params` (the last path segment replaced by `*`, context parameters kept), as
 * Envoy matches resources to glob subscriptions (LEDS subscribes to `leds_collection_name`, such a glob).
 * `undefined` for names that are not `xdstp://` names with an id, and for globs themselves.
 *
 * @param name - a resource name
 */
export function globCollectionOf(name: string): string | undefined {
  if (!name.startsWith(XDSTP)) return undefined;
  const query = name.indexOf('?');
  const path = query < 0 ? name : name.slice(0, query);
  const slash = path.lastIndexOf('/');
  // authority/type/id at least: a slash after the one that ends the authority.
  if (slash <= path.indexOf('/', XDSTP.length) || path.endsWith('/*')) return undefined;
  return `${path.slice(0, slash)}/*${query < 0 ? '' : name.slice(query)}`;
}

/** True for an `xdstp://` glob collection name (`xdstp://authority/type/path/*`, optionally with `?params`). */
export function isGlobCollection(name: string): boolean {
  if (!name.startsWith(XDSTP)) return false;
  const query = name.indexOf('?');
  return (query < 0 ? name : name.slice(0, query)).endsWith('/*');
}
