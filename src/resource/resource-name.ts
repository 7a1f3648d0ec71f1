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
