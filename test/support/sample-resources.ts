// Realistic resources of every xDS type, in the ProtoJSON shape users write.
import { TypeUrl, type ResourceTypeMap, type ResourceTypeUrl } from '../../src/resource/index.js';

export function cluster(name: string, extra: Record<string, unknown> = {}): ResourceTypeMap[typeof TypeUrl.Cluster] {
  return {
    name,
    connect_timeout: '5s',
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    lb_policy: 'ROUND_ROBIN',
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 1024, max_pending_requests: 1024, max_requests: 2048, max_retries: 3 }] },
    outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 },
    health_checks: [{ timeout: '1s', interval: '5s', unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: { path: '/healthz' } }],
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: `${name}.svc.cluster.local`,
        common_tls_context: { alpn_protocols: ['h2', 'http/1.1'] },
      },
    },
    metadata: { filter_metadata: { 'envoy.lb': { canary: false, zone: 'a' }, team: { owner: 'payments', tier: 1 } } },
    ...extra,
  };
}

export function endpoints(clusterName: string, count = 3, port = 8080): ResourceTypeMap[typeof TypeUrl.Endpoint] {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: 'eu', zone: 'eu-1a' },
        lb_endpoints: Array.from({ length: count }, (_, i) => ({
          endpoint: { address: { socket_address: { address: `10.0.${i >> 8}.${i & 255}`, port_value: port } } },
          health_status: 'HEALTHY',
          load_balancing_weight: 1,
        })),
      },
    ],
  };
}

export function listener(name: string, routeName: string, port = 10000): ResourceTypeMap[typeof TypeUrl.Listener] {
  return {
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'http',
              codec_type: 'AUTO',
              rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          },
        ],
      },
    ],
  };
}

export function route(name: string, clusterName: string): ResourceTypeMap[typeof TypeUrl.Route] {
  return {
    name,
    virtual_hosts: [{ name: 'local', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: clusterName, timeout: '15s' } }] }],
  };
}

/** One realistic resource of every xDS type. */
export const samples: { [K in ResourceTypeUrl]: ResourceTypeMap[K] } = {
  [TypeUrl.Cluster]: cluster('backend'),
  [TypeUrl.Endpoint]: endpoints('backend'),
  [TypeUrl.LbEndpoint]: { endpoint: { address: { socket_address: { address: '10.1.0.1', port_value: 9000 } } }, load_balancing_weight: 2 },
  [TypeUrl.Listener]: listener('listener_0', 'local_route'),
  [TypeUrl.Route]: route('local_route', 'backend'),
  [TypeUrl.ScopedRoute]: { name: 'scope-a', route_configuration_name: 'local_route', key: { fragments: [{ string_key: 'a' }] } },
  [TypeUrl.VirtualHost]: { name: 'local_route/example.com', domains: ['example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] },
  [TypeUrl.Secret]: {
    name: 'server_cert',
    tls_certificate: { certificate_chain: { inline_string: '-----BEGIN CERTIFICATE-----\n...' }, private_key: { inline_bytes: Buffer.from('key').toString('base64') } },
  },
  [TypeUrl.Runtime]: { name: 'rtds', layer: { 'health_check.min_interval': 10, feature: { enabled: true } } },
  [TypeUrl.ExtensionConfig]: {
    name: 'fault',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', abort: { http_status: 503, percentage: { numerator: 100 } } },
  },
};
