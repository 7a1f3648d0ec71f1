/**
 * The benchmark's resources, in ProtoJSON shape (proto field names, Duration as "1s", wrappers as plain
 * values, Struct as plain JSON, Any as an object with "@type"), built exactly as the Go reference server
 * builds them (bench/go-reference/resources.go). bench/fleet/check-resources.ts compares the two.
 *
 * Fields equal to their proto3 default are left out, as ProtoJSON does (the Go code sets lb_policy
 * ROUND_ROBIN, circuit-breaker priority DEFAULT and codec_type AUTO, which encode to nothing).
 *
 * Our server's benchmark entry point builds its snapshots from {@link FleetGenerator}.
 *
 * @packageDocumentation
 */

/** A ProtoJSON object. */
export type ProtoJson = { [field: string]: unknown };

/** Size of a snapshot. */
export interface FleetShape {
  /** Clusters, and as many ClusterLoadAssignments. */
  readonly clusters: number;
  /** Listeners, and as many RouteConfigurations (listener-L uses route-L). */
  readonly listeners: number;
  /** Endpoints per ClusterLoadAssignment. */
  readonly endpoints: number;
}

/** How the next snapshot differs from the previous one. */
export type FleetChange = 'none' | 'one-endpoint' | 'all';

/** The resources of one snapshot, by kind. */
export interface FleetResources {
  readonly clusters: ProtoJson[];
  readonly endpoints: ProtoJson[];
  readonly listeners: ProtoJson[];
  readonly routes: ProtoJson[];
}

/** Type URL prefix of packed messages. */
const T = 'type.googleapis.com/';

/** Name of cluster `i` (and of its ClusterLoadAssignment). */
export function clusterName(i: number): string {
  return `cluster-${String(i).padStart(5, '0')}`;
}

const adsSource = (): ProtoJson => ({ ads: {}, resource_api_version: 'V3' });

/** Cluster `i` at revision `rev` (revision is only in its metadata). */
export function makeCluster(i: number, rev: number): ProtoJson {
  const name = clusterName(i);
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsSource() },
    connect_timeout: '1s',
    circuit_breakers: {
      thresholds: [
        { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 },
      ],
    },
    outlier_detection: {
      consecutive_5xx: 5,
      interval: '10s',
      base_ejection_time: '30s',
      max_ejection_percent: 10,
    },
    health_checks: [
      {
        timeout: '1s',
        interval: '5s',
        unhealthy_threshold: 3,
        healthy_threshold: 2,
        http_health_check: { path: '/healthz' },
      },
    ],
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
        sni: `${name}.svc.bench.local`,
        common_tls_context: { alpn_protocols: ['h2', 'http/1.1'] },
      },
    },
    metadata: { filter_metadata: { bench: { index: i, revision: rev, team: `team-${i % 10}` } } },
  };
}

/** ClusterLoadAssignment of cluster `i` with `endpoints` endpoints, at revision `rev` (in the ports). */
export function makeAssignment(i: number, endpoints: number, rev: number): ProtoJson {
  const lbEndpoints: ProtoJson[] = [];
  for (let j = 0; j < endpoints; j++) {
    const k = i * endpoints + j;
    lbEndpoints.push({
      endpoint: {
        address: {
          socket_address: {
            address: `127.1.${Math.floor(k / 250) % 250}.${(k % 250) + 1}`,
            port_value: 10000 + j + 10 * (rev % 5000),
          },
        },
      },
      load_balancing_weight: 1,
    });
  }
  return {
    cluster_name: clusterName(i),
    endpoints: [{ locality: { region: 'bench', zone: `zone-${i % 3}` }, lb_endpoints: lbEndpoints }],
  };
}

/** Listener `l`: 127.0.0.1:(10000 + l), one HTTP connection manager using RDS `route-l` over ADS. */
export function makeListener(l: number): ProtoJson {
  return {
    name: `listener-${l}`,
    address: { socket_address: { address: '127.0.0.1', port_value: 10000 + l } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: 'ingress_http',
              rds: { config_source: adsSource(), route_config_name: `route-${l}` },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** RouteConfiguration `route-l`: one virtual host, one prefix route per cluster. */
export function makeRoute(l: number, clusters: number): ProtoJson {
  const routes: ProtoJson[] = [];
  for (let i = 0; i < clusters; i++) {
    const name = clusterName(i);
    routes.push({ match: { prefix: `/${name}/` }, route: { cluster: name } });
  }
  return { name: `route-${l}`, virtual_hosts: [{ name: 'all', domains: ['*'], routes }] };
}

/**
 * Builds snapshots as the Go reference does: one revision counter per Cluster and per
 * ClusterLoadAssignment; `one-endpoint` bumps the assignment of cluster 0, `all` bumps every Cluster and
 * every assignment.
 */
export class FleetGenerator {
  private readonly clusterRev: number[] = [];
  private readonly endpointRev: number[] = [];

  /** Applies `change` and returns every resource of the resulting snapshot. */
  build(shape: FleetShape, change: FleetChange): FleetResources {
    while (this.clusterRev.length < shape.clusters) {
      this.clusterRev.push(0);
      this.endpointRev.push(0);
    }
    if (change === 'one-endpoint' && shape.clusters > 0) this.endpointRev[0]++;
    if (change === 'all') {
      for (let i = 0; i < shape.clusters; i++) {
        this.clusterRev[i]++;
        this.endpointRev[i]++;
      }
    }
    const out: FleetResources = { clusters: [], endpoints: [], listeners: [], routes: [] };
    for (let i = 0; i < shape.clusters; i++) {
      out.clusters.push(makeCluster(i, this.clusterRev[i]));
      out.endpoints.push(makeAssignment(i, shape.endpoints, this.endpointRev[i]));
    }
    for (let l = 0; l < shape.listeners; l++) {
      out.listeners.push(makeListener(l));
      out.routes.push(makeRoute(l, shape.clusters));
    }
    return out;
  }
}
