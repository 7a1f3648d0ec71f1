/**
 * Pieces shared by the real-Envoy tests that drive Envoy over ADS: a bootstrap whose only static resource is
 * the way to our control plane, resource builders, and a plain HTTP client for requests through Envoy.
 *
 * @module
 */
import { request } from 'node:http';
import { ExtensionTypeUrl } from '../../src/resource/index.js';
import type { Cluster } from '../../src/types/index.js';
import type { Bootstrap } from './envoy.js';

/** Options of {@link adsBootstrap}. */
export interface AdsBootstrapOptions {
  /** Node id Envoy announces (the cache key). */
  nodeId: string;
  /** Port of our xDS server on 127.0.0.1, or the ports of several replicas (the xds_cluster lists them all). */
  xdsPort: number | readonly number[];
  /** `GRPC` (state of the world, default) or `DELTA_GRPC`. */
  apiType?: 'GRPC' | 'DELTA_GRPC';
  /** More top-level bootstrap fields (e.g. `layered_runtime`). */
  extra?: Bootstrap;
}

/** An ADS config source, as resources and the bootstrap refer to ADS. */
export const ADS = { ads: {}, resource_api_version: 'V3' } as const;

/**
 * A bootstrap with LDS and CDS over ADS (SotW or delta) to our server on loopback, reconnecting within a
 * second if the stream drops.
 */
export function adsBootstrap(options: AdsBootstrapOptions): Bootstrap {
  return {
    node: { id: options.nodeId, cluster: 'e2e' },
    dynamic_resources: {
      ads_config: {
        api_type: options.apiType ?? 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [
          { envoy_grpc: { cluster_name: 'xds_cluster', retry_policy: { retry_back_off: { base_interval: '0.2s', max_interval: '1s' } } } },
        ],
      },
      cds_config: ADS,
      lds_config: ADS,
    },
    static_resources: {
      clusters: [
        {
          name: 'xds_cluster',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': ExtensionTypeUrl.HttpProtocolOptions,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'xds_cluster',
            endpoints: [
              {
                lb_endpoints: [options.xdsPort].flat().map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })),
              },
            ],
          },
        },
      ],
    },
    ...options.extra,
  };
}

/** A STATIC cluster with one loopback endpoint. */
export function staticCluster(name: string, port: number): Cluster {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

/** The router filter, last of an HCM's HTTP filters. */
export const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: { '@type': ExtensionTypeUrl.Router } } as const;

/**
 * A listener on 127.0.0.1 whose one filter chain runs an HTTP connection manager with the given fields
 * (`route_config`, `rds`, `scoped_routes`, `http_filters`…; the router filter is added when `http_filters` is
 * absent), and optionally a transport socket.
 */
export function httpListener(
  name: string,
  port: number,
  hcm: Record<string, unknown>,
  transportSocket?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': ExtensionTypeUrl.HTTPConnectionManager,
              stat_prefix: name,
              http_filters: [ROUTER_FILTER],
              ...hcm,
            },
          },
        ],
        ...(transportSocket ? { transport_socket: transportSocket } : {}),
      },
    ],
  };
}

/** A route configuration with one virtual host for every domain, routing everything to `cluster`. */
export function catchAllRoute(name: string, cluster: string): Record<string, unknown> {
  return { name, virtual_hosts: [{ name: `${name}-all`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] };
}

/** An HTTP answer. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * GET `http://127.0.0.1:<port><path>` without keep-alive (no socket outlives the request), with optional
 * headers (`host` among them). Rejects on network errors or after `timeoutMs`.
 */
export function httpGet(port: number, options: { path?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: options.path ?? '/', headers: options.headers, agent: false, timeout: options.timeoutMs ?? 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET :${port}${options.path ?? '/'} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The first line of an echo server's reply, e.g. `Request served by service1`. */
export function servedBy(answer: HttpAnswer): string {
  return answer.body.split('\n', 1)[0] ?? '';
}
