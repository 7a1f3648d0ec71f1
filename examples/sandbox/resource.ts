// The resources of Envoy's "dynamic configuration (control plane)" sandbox, written with xds-control-plane:
// the counterpart of the sandbox's resource.go. One LOGICAL_DNS cluster, one route configuration sending `/` to
// it, and one HTTP listener on port 10000 whose routes come over RDS from the control plane.
import { Snapshot } from 'xds-control-plane/cache';
import { ExtensionTypeUrl, TypeUrl, WellKnown } from 'xds-control-plane/resource';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, envoy } from 'xds-control-plane/types';

export const ClusterName = 'example_proxy_cluster';
export const RouteName = 'local_route';
export const ListenerName = 'listener_0';
export const ListenerPort = 10000;
export const UpstreamHost = 'service1';
export const UpstreamPort = 8080;
/** The snapshot's version: the guide changes it from "1" to "2" together with `UpstreamHost`. */
export const SnapshotVersion = '1';

/** The upstream cluster: LOGICAL_DNS, connect timeout 5s, IPv4 only, its one endpoint given inline. */
export function makeCluster(clusterName: string, upstreamHost = UpstreamHost, upstreamPort = UpstreamPort): Cluster {
  return {
    name: clusterName,
    connect_timeout: '5s',
    type: 'LOGICAL_DNS',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: makeEndpoint(clusterName, upstreamHost, upstreamPort),
    dns_lookup_family: 'V4_ONLY',
  };
}

/** The endpoint assignment of the cluster: one host and port. */
export function makeEndpoint(clusterName: string, upstreamHost = UpstreamHost, upstreamPort = UpstreamPort): ClusterLoadAssignment {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { protocol: 'TCP', address: upstreamHost, port_value: upstreamPort } } } },
        ],
      },
    ],
  };
}

/** A route configuration sending every path to the cluster, rewriting the Host header to the upstream's. */
export function makeRoute(routeName: string, clusterName: string, upstreamHost = UpstreamHost): RouteConfiguration {
  return {
    name: routeName,
    virtual_hosts: [
      {
        name: 'local_service',
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, route: { cluster: clusterName, host_rewrite_literal: upstreamHost } }],
      },
    ],
  };
}

/** An HTTP listener whose route configuration comes over RDS. The router filter carries its typed_config. */
export function makeHTTPListener(listenerName: string, route: string, listenerPort = ListenerPort): Listener {
  return {
    name: listenerName,
    address: { socket_address: { protocol: 'TCP', address: '0.0.0.0', port_value: listenerPort } },
    filter_chains: [
      {
        filters: [
          {
            name: WellKnown.HTTPConnectionManager,
            typed_config: {
              '@type': ExtensionTypeUrl.HTTPConnectionManager,
              codec_type: 'AUTO',
              stat_prefix: 'http',
              rds: { config_source: makeConfigSource(), route_config_name: route },
              http_filters: [{ name: WellKnown.Router, typed_config: { '@type': ExtensionTypeUrl.Router } }],
            },
          },
        ],
      },
    ],
  };
}

/** Where Envoy fetches RDS from: the control plane over gRPC, through the static `xds_cluster`. */
export function makeConfigSource(): envoy.config.core.v3.ConfigSource {
  return {
    resource_api_version: 'V3',
    api_config_source: {
      api_type: 'GRPC',
      transport_api_version: 'V3',
      set_node_on_first_message_only: true,
      grpc_services: [{ envoy_grpc: { cluster_name: 'xds_cluster' } }],
    },
  };
}

/** Options of {@link generateSnapshot}. */
export interface SnapshotOptions {
  /** The snapshot version: `"1"` in the sandbox, `"2"` after the upstream change. */
  version?: string;
  /** Host name of the upstream (`service1` or `service2`): the Host header Envoy sends it. */
  upstreamHost?: string;
  /** Address Envoy connects to; default `upstreamHost` (a DNS name under Docker, 127.0.0.1 without it). */
  upstreamAddress?: string;
  /** Port of the upstream. */
  upstreamPort?: number;
  /** Port of the listener. */
  listenerPort?: number;
}

/** The sandbox's snapshot: one cluster, one route, one listener. */
export function generateSnapshot(options: SnapshotOptions = {}): Snapshot {
  const host = options.upstreamHost ?? UpstreamHost;
  return new Snapshot(options.version ?? SnapshotVersion, {
    [TypeUrl.Cluster]: [makeCluster(ClusterName, options.upstreamAddress ?? host, options.upstreamPort ?? UpstreamPort)],
    [TypeUrl.Route]: [makeRoute(RouteName, ClusterName, host)],
    [TypeUrl.Listener]: [makeHTTPListener(ListenerName, RouteName, options.listenerPort ?? ListenerPort)],
  });
}
