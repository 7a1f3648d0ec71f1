// What the proxyless gRPC tests share: the resources that route `xds:///echo.test` to echo servers, and the setup
// of @grpc/grpc-js-xds (a process-wide client: one bootstrap per test file's process).
import * as grpcJsXds from '@grpc/grpc-js-xds';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { ExtensionTypeUrl, TypeUrl } from '../../src/resource/index.js';
import { createServer, type ServerOptions, type XdsServer } from '../../src/server/index.js';
import type { Cluster } from '../../src/types/index.js';
import { startGrpcEcho, type echoClient, type EchoServer } from './grpc-echo.js';

/** The service the clients call, `xds:///echo.test`: the name of the API listener. */
export const SERVICE = 'echo.test';

function listener() {
  return {
    name: SERVICE,
    api_listener: {
      api_listener: {
        '@type': ExtensionTypeUrl.HTTPConnectionManager,
        stat_prefix: 'echo', // unused by gRPC, required by Envoy's rules, which the library enforces
        rds: { route_config_name: 'echo-route', config_source: { ads: {} } },
        http_filters: [{ name: 'router', typed_config: { '@type': ExtensionTypeUrl.Router } }],
      },
    },
  };
}

function route(action: Record<string, unknown>) {
  return { name: 'echo-route', virtual_hosts: [{ name: 'echo', domains: [SERVICE], routes: [{ match: { prefix: '' }, route: action }] }] };
}

function cluster(name: string, extra: Record<string, unknown> = {}): Cluster {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, lb_policy: 'ROUND_ROBIN', ...extra };
}

function assignment(name: string, port: number) {
  return { cluster_name: name, endpoints: [{ locality: { region: 'local' }, load_balancing_weight: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] };
}

/**
 * The listener, route, and clusters `backend-a` and `backend-b` with the endpoints of the two echo servers; the
 * route takes `action` (`{ cluster: 'backend-a' }`, weighted clusters, …), `clusterExtra` goes into `backend-a`.
 */
export function proxylessSnapshot(version: string, backends: readonly EchoServer[], action: Record<string, unknown>, clusterExtra: Record<string, unknown> = {}): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Listener]: [listener()],
    [TypeUrl.Route]: [route(action)],
    [TypeUrl.Cluster]: [cluster('backend-a', clusterExtra), cluster('backend-b')],
    [TypeUrl.Endpoint]: [assignment('backend-a', backends[0].port), assignment('backend-b', backends[1].port)],
  });
}

/** Makes `calls` calls and counts them by the backend that answered. */
export async function servedBy(client: ReturnType<typeof echoClient>, calls: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const name = await client.call();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** Polls `check` every 100 ms until it holds; throws after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Points this process's grpc-js-xds at the xDS server on `port` (insecure, SotW ADS) as node `nodeId`. */
function registerGrpcXds(port: number, nodeId: string): void {
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality: {} },
  });
  grpcJsXds.register();
}

/** Two echo servers, an ADS cache and an xDS server that this process's grpc-js-xds is pointed at. */
export interface ProxylessFixture {
  readonly cache: SnapshotCache;
  readonly xds: XdsServer;
  readonly backends: readonly EchoServer[];
  /** {@link proxylessSnapshot} with these backends. */
  snapshot(version: string, action: Record<string, unknown>, clusterExtra?: Record<string, unknown>): Snapshot;
  /**
   * Closes the server and the echo servers, then ends the process half a second later: grpc-js-xds keeps a
   * process-wide xDS client with no public way to shut it down, which would keep reconnecting to the closed server.
   */
  close(): Promise<void>;
}

/** Starts the fixture: the xDS server with `options`, grpc-js-xds registered as node `nodeId`. */
export async function startProxyless(nodeId: string, options: ServerOptions): Promise<ProxylessFixture> {
  const backends = [await startGrpcEcho('backend-a'), await startGrpcEcho('backend-b')];
  const cache = new SnapshotCache({ ads: true });
  const xds = createServer(cache, options);
  registerGrpcXds(await xds.listen('127.0.0.1:0'), nodeId);
  return {
    cache,
    xds,
    backends,
    snapshot: (version, action, clusterExtra) => proxylessSnapshot(version, backends, action, clusterExtra),
    async close() {
      await xds.close({ deadlineMs: 1000 });
      await Promise.all(backends.map((b) => b.close()));
      setTimeout(() => process.exit(0), 500).unref();
    },
  };
}
