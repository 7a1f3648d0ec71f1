import { ExtensionTypeUrl } from './wellknown.js';
import { TypeUrl, type ResourceTypeUrl } from './type-url.js';

type Json = Record<string, unknown>;

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Reads a field by its proto name or its lowerCamel JSON name. */
function field(obj: unknown, name: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const record = obj as Json;
  return record[name] ?? record[camel(name)];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function add(out: Map<ResourceTypeUrl, Set<string>>, typeUrl: ResourceTypeUrl, name: unknown): void {
  if (typeof name !== 'string' || name === '') return;
  let names = out.get(typeUrl);
  if (names === undefined) {
    names = new Set();
    out.set(typeUrl, names);
  }
  names.add(name);
}

function clusterReferences(cluster: unknown, out: Map<ResourceTypeUrl, Set<string>>): void {
  const type = field(cluster, 'type');
  if (type !== 'EDS' && type !== 3) return;
  const serviceName = field(field(cluster, 'eds_cluster_config'), 'service_name');
  add(out, TypeUrl.Endpoint, typeof serviceName === 'string' && serviceName !== '' ? serviceName : field(cluster, 'name'));
}

function listenerReferences(listener: unknown, out: Map<ResourceTypeUrl, Set<string>>): void {
  const chains = [...list(field(listener, 'filter_chains'))];
  const defaultChain = field(listener, 'default_filter_chain');
  if (defaultChain) chains.push(defaultChain);
  for (const chain of chains) {
    for (const filter of list(field(chain, 'filters'))) {
      const config = field(filter, 'typed_config');
      if (field(config, '@type') !== ExtensionTypeUrl.HTTPConnectionManager) continue;
      add(out, TypeUrl.Route, field(field(config, 'rds'), 'route_config_name'));
      const scoped = field(field(field(config, 'scoped_routes'), 'scoped_route_configurations_list'), 'scoped_route_configurations');
      for (const scope of list(scoped)) add(out, TypeUrl.Route, field(scope, 'route_configuration_name'));
    }
  }
}

/**
 * The names of the resources that the given resources refer to, by type, as go-control-plane's
 * `GetAllResourceReferences`: the ClusterLoadAssignments that EDS clusters need (`eds_cluster_config.service_name`
 * or the cluster's name), the RouteConfigurations that listeners need through an HTTP connection manager's `rds`
 * or its inline scoped routes (in every filter chain, the default one included), and the RouteConfigurations that
 * scoped route configurations name.
 *
 * @param resources - resources by type URL, in ProtoJSON shape
 */
export function getResourceReferences(resources: Partial<Record<string, Iterable<unknown>>>): Map<ResourceTypeUrl, Set<string>> {
  const out = new Map<ResourceTypeUrl, Set<string>>();
  for (const cluster of resources[TypeUrl.Cluster] ?? []) clusterReferences(cluster, out);
  for (const listener of resources[TypeUrl.Listener] ?? []) listenerReferences(listener, out);
  for (const scoped of resources[TypeUrl.ScopedRoute] ?? []) add(out, TypeUrl.Route, field(scoped, 'route_configuration_name'));
  return out;
}
