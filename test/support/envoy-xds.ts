/**
 * Real Envoy fetching listeners, routes, clusters and endpoints from our server in any xDS mode: the bootstrap
 * of each mode, the resources (an HTTP listener with RDS, EDS clusters, endpoint assignments to echo servers),
 * HTTP requests through Envoy, and the version strings config_dump shows.
 *
 * @module
 */
import { type Agent, request } from 'node:http';
import { after, before } from 'node:test';
import { Snapshot } from '../../src/cache/index.js';
import { ExtensionTypeUrl, TypeUrl, WellKnown, type ResourceTypeUrl } from '../../src/resource/index.js';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../../src/types/index.js';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { configSection, type Bootstrap, type ConfigDump, type EnvoyInstance } from './envoy.js';

/** How Envoy talks xDS to us. */
export type XdsMode = 'ads-sotw' | 'ads-delta' | 'sotw' | 'delta' | 'rest';

/** Every mode, in the order tests run them. */
export const XDS_MODES: readonly XdsMode[] = ['ads-sotw', 'ads-delta', 'sotw', 'delta', 'rest'];

/** Whether a mode is ADS (one stream for every type). */
export const isAds = (mode: XdsMode): boolean => mode.startsWith('ads-');

/** Whether a mode uses delta xDS. */
export const isDelta = (mode: XdsMode): boolean => mode.endsWith('delta');

/** Static cluster of our gRPC port. */
export const XDS_CLUSTER = 'xds_cluster';
/** Static cluster of our REST port. */
export const REST_CLUSTER = 'xds_rest';

/** Where our server listens. */
export interface ControlPlanePorts {
  /** gRPC (ADS, per-type services, SotW and delta). */
  grpc: number;
  /** REST (`listenRest`); needed for mode `rest`. */
  rest?: number;
}

/** Options of {@link modeBootstrap}. */
export interface ModeBootstrapOptions {
  mode: XdsMode;
  nodeId: string;
  controlPlane: ControlPlanePorts;
  /** REST polling interval; default 200 ms. */
  refreshDelayMs?: number;
  /** gRPC reconnect backoff to the control plane; default 100 ms to 1 s. */
  retryBaseMs?: number;
}

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * The config source of LDS, RDS, CDS and EDS in a mode: `ads: {}` over ADS, otherwise an API config source
 * (`GRPC`, `DELTA_GRPC` or `REST`) naming our static cluster.
 */
export function configSource(options: ModeBootstrapOptions): Record<string, unknown> {
  const { mode } = options;
  if (isAds(mode)) return { ads: {}, resource_api_version: 'V3' };
  if (mode === 'rest') {
    return {
      resource_api_version: 'V3',
      api_config_source: {
        api_type: 'REST',
        transport_api_version: 'V3',
        cluster_names: [REST_CLUSTER],
        refresh_delay: seconds(options.refreshDelayMs ?? 200),
        request_timeout: '2s',
      },
    };
  }
  return { resource_api_version: 'V3', api_config_source: grpcApiSource(options, mode === 'delta' ? 'DELTA_GRPC' : 'GRPC') };
}

function grpcApiSource(options: ModeBootstrapOptions, apiType: 'GRPC' | 'DELTA_GRPC'): Record<string, unknown> {
  const base = options.retryBaseMs ?? 100;
  return {
    api_type: apiType,
    transport_api_version: 'V3',
    set_node_on_first_message_only: true,
    grpc_services: [
      {
        envoy_grpc: {
          cluster_name: XDS_CLUSTER,
          retry_policy: { retry_back_off: { base_interval: seconds(base), max_interval: seconds(base * 10) } },
        },
      },
    ],
  };
}

function staticCluster(name: string, port: number, http2: boolean): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

/** An Envoy bootstrap whose LDS and CDS (and, through the resources, RDS and EDS) come from us in `mode`. */
export function modeBootstrap(options: ModeBootstrapOptions): Bootstrap {
  const { mode, controlPlane } = options;
  const clusters = [staticCluster(XDS_CLUSTER, controlPlane.grpc, true)];
  if (mode === 'rest') {
    if (controlPlane.rest === undefined) throw new Error('mode rest needs the REST port');
    clusters.push(staticCluster(REST_CLUSTER, controlPlane.rest, false));
  }
  const source = configSource(options);
  return {
    node: { id: options.nodeId, cluster: 'test-cluster' },
    dynamic_resources: {
      ...(isAds(mode) ? { ads_config: grpcApiSource(options, mode === 'ads-delta' ? 'DELTA_GRPC' : 'GRPC') } : {}),
      cds_config: source,
      lds_config: source,
    },
    static_resources: { clusters },
  };
}

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

/** A route of {@link routeConfig}: requests whose path starts with `prefix` go to `cluster`. */
export interface RouteSpec {
  prefix: string;
  cluster: string;
}

/** An HTTP listener on 127.0.0.1:`port` whose routes (`routeName`) come over RDS from `source`. */
export function httpListener(name: string, port: number, routeName: string, source: Record<string, unknown>): Listener {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: WellKnown.HTTPConnectionManager,
            typed_config: {
              '@type': ExtensionTypeUrl.HTTPConnectionManager,
              stat_prefix: name,
              codec_type: 'AUTO',
              rds: { route_config_name: routeName, config_source: source },
              http_filters: [{ name: WellKnown.Router, typed_config: { '@type': ExtensionTypeUrl.Router } }],
            },
          },
        ],
      },
    ],
  };
}

/** A route configuration with one virtual host (every domain) and the given routes, in order. */
export function routeConfig(name: string, routes: readonly RouteSpec[]): RouteConfiguration {
  return {
    name,
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: routes.map((r) => ({ match: { prefix: r.prefix }, route: { cluster: r.cluster } })),
      },
    ],
  };
}

/** An EDS cluster whose endpoints come from `source`. */
export function edsCluster(name: string, source: Record<string, unknown>): Cluster {
  return {
    name,
    type: 'EDS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: source },
  };
}

/** The endpoints of `cluster`: loopback ports. */
export function assignment(cluster: string, ...ports: number[]): ClusterLoadAssignment {
  return {
    cluster_name: cluster,
    endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }],
  };
}

/** What {@link proxySnapshot} builds. */
export interface ProxyConfig {
  version: string;
  listenerPort: number;
  source: Record<string, unknown>;
  /** Clusters by name, each with the ports of its endpoints. */
  clusters: Record<string, readonly number[]>;
  routes: readonly RouteSpec[];
  listenerName?: string;
  routeName?: string;
}

/** A snapshot of one HTTP listener, its route configuration, EDS clusters and their endpoints. */
export function proxySnapshot(config: ProxyConfig): Snapshot {
  const listenerName = config.listenerName ?? 'http';
  const routeName = config.routeName ?? 'routes';
  const names = Object.keys(config.clusters);
  return new Snapshot(config.version, {
    [TypeUrl.Listener]: [httpListener(listenerName, config.listenerPort, routeName, config.source)],
    [TypeUrl.Route]: [routeConfig(routeName, config.routes)],
    [TypeUrl.Cluster]: names.map((name) => edsCluster(name, config.source)),
    [TypeUrl.Endpoint]: names.map((name) => assignment(name, ...(config.clusters[name] ?? []))),
  });
}

// ---------------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------------

/** The answer to one request through Envoy. */
export type HttpResult =
  | { ok: true; status: number; body: string; servedBy: string | undefined }
  | {
      ok: false;
      error: string;
      /**
       * The request went out on a kept-alive connection: an `ECONNRESET` then means the server closed it as the
       * request was sent (the keep-alive race, which clients answer by retrying), not that it refused service.
       */
      reusedSocket: boolean;
    };

/**
 * GET `path` on 127.0.0.1:`port`. `servedBy` is the echo server's name (`Request served by <name>`).
 *
 * @param agent - a keep-alive agent to reuse connections; default a new connection per request.
 * @param headers - request headers (e.g. a scope key).
 */
export function httpGet(port: number, path = '/', agent?: Agent, timeoutMs = 3_000, headers?: Record<string, string>): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: agent ?? false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ ok: true, status: res.statusCode ?? 0, body, servedBy: /^Request served by (\S+)/.exec(body)?.[1] });
      });
      res.on('error', (error) => resolve({ ok: false, error: error.message, reusedSocket: req.reusedSocket }));
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, error: error.code ?? error.message, reusedSocket: req.reusedSocket }));
    req.end();
  });
}

/**
 * Sends GETs to 127.0.0.1:`port` one after another (a new connection each) until stopped, and returns how many
 * were sent and those that failed or were not answered 200 by echo server `expected`.
 */
export function keepRequesting(port: number, expected = 'A', path = '/', headers?: Record<string, string>): { stop(): Promise<{ sent: number; failed: HttpResult[] }> } {
  let running = true;
  let sent = 0;
  const failed: HttpResult[] = [];
  const loop = (async () => {
    while (running) {
      const result = await httpGet(port, path, undefined, 3_000, headers);
      sent++;
      if (!result.ok || result.status !== 200 || result.servedBy !== expected) failed.push(result);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { sent, failed };
    },
  };
}

/** Which echo server answered `path` through Envoy, or `undefined` (error, non-2xx, not an echo reply). */
export async function servedBy(port: number, path = '/'): Promise<string | undefined> {
  const result = await httpGet(port, path);
  return result.ok && result.status === 200 ? result.servedBy : undefined;
}

// ---------------------------------------------------------------------------------------------------
// config_dump
// ---------------------------------------------------------------------------------------------------

/**
 * The `version_info` of each dynamic listener, route configuration and cluster, by name, and the endpoint
 * ports of each dynamic endpoint assignment (Envoy 1.40 leaves `version_info` of `dynamic_endpoint_configs`
 * empty, so endpoints are known by content).
 */
export interface DumpedVersions {
  listeners: Record<string, string | undefined>;
  routes: Record<string, string | undefined>;
  clusters: Record<string, string | undefined>;
  endpoints: Record<string, number[]>;
}

interface Versioned {
  version_info?: string;
}

/** Reads the versions of the dynamic resources out of `/config_dump?include_eds`. */
export async function dumpedVersions(envoy: EnvoyInstance): Promise<DumpedVersions> {
  const dump: ConfigDump = await envoy.configDump({ include_eds: '' });
  const out: DumpedVersions = { listeners: {}, routes: {}, clusters: {}, endpoints: {} };
  const listeners = configSection(dump, 'ListenersConfigDump') as
    | { dynamic_listeners?: Array<{ name?: string; active_state?: Versioned }> }
    | undefined;
  for (const l of listeners?.dynamic_listeners ?? []) if (l.name && l.active_state) out.listeners[l.name] = l.active_state.version_info;
  const routes = configSection(dump, 'RoutesConfigDump') as
    | { dynamic_route_configs?: Array<Versioned & { route_config?: { name?: string } }> }
    | undefined;
  for (const r of routes?.dynamic_route_configs ?? []) if (r.route_config?.name) out.routes[r.route_config.name] = r.version_info;
  const clusters = configSection(dump, 'ClustersConfigDump') as
    | { dynamic_active_clusters?: Array<Versioned & { cluster?: { name?: string } }> }
    | undefined;
  for (const c of clusters?.dynamic_active_clusters ?? []) if (c.cluster?.name) out.clusters[c.cluster.name] = c.version_info;
  const endpoints = configSection(dump, 'EndpointsConfigDump') as
    | {
        dynamic_endpoint_configs?: Array<{
          endpoint_config?: {
            cluster_name?: string;
            endpoints?: Array<{ lb_endpoints?: Array<{ endpoint?: { address?: { socket_address?: { port_value?: number } } } }> }>;
          };
        }>;
      }
    | undefined;
  for (const e of endpoints?.dynamic_endpoint_configs ?? []) {
    const config = e.endpoint_config;
    if (!config?.cluster_name) continue;
    out.endpoints[config.cluster_name] = (config.endpoints ?? [])
      .flatMap((locality) => locality.lb_endpoints ?? [])
      .map((lb) => lb.endpoint?.address?.socket_address?.port_value ?? 0);
  }
  return out;
}

/** The two upstreams the mode, NACK and traffic tests move traffic between. */
export interface Upstreams {
  readonly a: EchoServer;
  readonly b: EchoServer;
}

/**
 * Starts echo servers `A` and `B` before the file's tests and closes them after. Call at the top level of a test
 * file; the returned object is filled in by the time the tests run.
 */
export function useUpstreams(): Upstreams {
  const upstreams = {} as { a: EchoServer; b: EchoServer };
  before(async () => {
    upstreams.a = await startEchoServer({ name: 'A' });
    upstreams.b = await startEchoServer({ name: 'B' });
  });
  after(async () => {
    await Promise.all([upstreams.a.close(), upstreams.b.close()]);
  });
  return upstreams;
}

/**
 * The snapshot with a filter after its listener's router: valid by every field rule, rejected by Envoy when it
 * builds the filter chain (the terminal filter must be last). How the tests make Envoy NACK.
 */
export function withFilterAfterRouter(snapshot: Snapshot, version: string): Snapshot {
  const [listener] = [...snapshot.getResources(TypeUrl.Listener).values()].map((r) => structuredClone(r.resource) as Listener);
  if (!listener) throw new Error('the snapshot has no listener');
  const hcm = listener.filter_chains?.[0]?.filters?.[0]?.typed_config as unknown as { http_filters: unknown[] };
  hcm.http_filters.push({ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } });
  const others = (type: ResourceTypeUrl) => [...snapshot.getResources(type).values()].map((r) => r.resource);
  return new Snapshot(version, {
    [TypeUrl.Listener]: [listener],
    [TypeUrl.Route]: others(TypeUrl.Route) as never[],
    [TypeUrl.Cluster]: others(TypeUrl.Cluster) as never[],
    [TypeUrl.Endpoint]: others(TypeUrl.Endpoint) as never[],
  });
}
