// A complete HTTP control plane: listener -> HTTP connection manager -> routes (RDS) -> cluster (CDS) ->
// endpoints (EDS), all over ADS, for Envoy started with examples/bootstrap/envoy-ads.yaml.
//
//   node --import tsx examples/http/main.ts [--port 18000] [--node envoy-1] [--listener-port 10000] [--upstream HOST:PORT,...]
//   envoy -c examples/bootstrap/envoy-ads.yaml
//   curl localhost:10000/          -> "hello from upstream 127.0.0.1:PORT"
//
// Without --upstream it starts a small HTTP upstream of its own, so that Envoy has something to serve.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Snapshot, SnapshotCache } from 'xds-control-plane/cache';
import { createServer, type XdsServer } from 'xds-control-plane/server';
import { ExtensionTypeUrl, TypeUrl, WellKnown } from 'xds-control-plane/resource';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from 'xds-control-plane/types';

/** An upstream address. */
export interface Upstream {
  host: string;
  port: number;
}

/** Options of {@link httpSnapshot}. */
export interface HttpSnapshotOptions {
  /** Snapshot version; any string that changes when the content does. */
  version: string;
  /** Port Envoy listens on for HTTP. */
  listenerPort: number;
  /** Where the `backend` cluster's traffic goes. */
  upstreams: readonly Upstream[];
}

/** Every xDS resource comes over ADS: the config source of RDS and EDS below. */
const ads = { ads: {}, resource_api_version: 'V3' } as const;

/**
 * The four resources of an HTTP proxy, each referring to the next by name: the listener `http` names the route
 * configuration `routes`, whose only route sends everything to the cluster `backend`, whose endpoints are the
 * ClusterLoadAssignment `backend`. `snapshot.consistent()` checks those references.
 */
export function httpSnapshot({ version, listenerPort, upstreams }: HttpSnapshotOptions): Snapshot {
  const listener: Listener = {
    name: 'http',
    address: { socket_address: { address: '0.0.0.0', port_value: listenerPort } },
    filter_chains: [
      {
        filters: [
          {
            name: WellKnown.HTTPConnectionManager,
            typed_config: {
              '@type': ExtensionTypeUrl.HTTPConnectionManager,
              stat_prefix: 'ingress_http',
              rds: { route_config_name: 'routes', config_source: ads },
              http_filters: [{ name: WellKnown.Router, typed_config: { '@type': ExtensionTypeUrl.Router } }],
            },
          },
        ],
      },
    ],
  };
  const routes: RouteConfiguration = {
    name: 'routes',
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '5s' } }],
      },
    ],
  };
  const cluster: Cluster = {
    name: 'backend',
    type: 'EDS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: ads },
  };
  const endpoints: ClusterLoadAssignment = {
    cluster_name: 'backend',
    endpoints: [
      {
        lb_endpoints: upstreams.map(({ host, port }) => ({
          endpoint: { address: { socket_address: { address: host, port_value: port } } },
        })),
      },
    ],
  };
  const snapshot = new Snapshot(version, {
    [TypeUrl.Listener]: [listener],
    [TypeUrl.Route]: [routes],
    [TypeUrl.Cluster]: [cluster],
    [TypeUrl.Endpoint]: [endpoints],
  });
  snapshot.consistent(); // throws if a name above does not match
  return snapshot;
}

/** A tiny HTTP upstream answering `hello from upstream HOST:PORT`. */
export async function startHelloUpstream(port = 0): Promise<{ server: Server; upstream: Upstream }> {
  const server = createHttpServer((req, res) => {
    const { port: own } = server.address() as AddressInfo;
    res.end(`hello from upstream 127.0.0.1:${own} (${req.method} ${req.url})\n`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } };
}

/** Options of {@link startHttpControlPlane}. */
export interface HttpControlPlaneOptions {
  /** xDS address, e.g. `0.0.0.0:18000`. */
  address: string;
  /** The node id in Envoy's bootstrap. */
  nodeId: string;
  listenerPort: number;
  upstreams: readonly Upstream[];
}

/** Sets the HTTP snapshot for `nodeId` and serves it over xDS; returns the server and its port. */
export async function startHttpControlPlane(options: HttpControlPlaneOptions): Promise<{ xds: XdsServer; port: number }> {
  const cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot(options.nodeId, httpSnapshot({ version: '1', listenerPort: options.listenerPort, upstreams: options.upstreams }));
  const xds = createServer(cache, {
    callbacks: {
      onAck: (ack) => console.log(`${ack.nodeId} ACKed ${ack.typeUrl.split('.').pop()} version ${ack.version}`),
      onNack: (nack) => console.warn(`${nack.nodeId} rejected ${nack.typeUrl}: ${nack.errorDetail.message}`),
    },
  });
  return { xds, port: await xds.listen(options.address) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '18000' },
      node: { type: 'string', default: 'envoy-1' },
      'listener-port': { type: 'string', default: '10000' },
      upstream: { type: 'string' },
    },
  });
  const upstreams = values.upstream
    ? values.upstream.split(',').map((hostPort) => {
        const [host = '', port = ''] = hostPort.split(':');
        return { host, port: Number(port) };
      })
    : [(await startHelloUpstream()).upstream];
  const { xds, port } = await startHttpControlPlane({
    address: `0.0.0.0:${values.port}`,
    nodeId: values.node,
    listenerPort: Number(values['listener-port']),
    upstreams,
  });
  console.log(`xDS on port ${port} for node ${values.node}; Envoy will listen on ${values['listener-port']} and send to ${upstreams.map((u) => `${u.host}:${u.port}`).join(', ')}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void xds.close({ deadlineMs: 2000 }).then(() => process.exit(0)));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
