// Real Envoy 1.40 takes, over ADS, a cluster and a listener that use fields and extensions the 2024 API did not
// have (dns_jitter, TcpProtocolOptions, tcp_keepalive, tls_inspector, http_inspector, stream_flush_timeout,
// http1_safe_max_connection_duration, vhost_header, request_body_buffer_limit, path_rewrite, the CORS filter):
// it ACKs them and serves traffic through them.
import assert from 'node:assert/strict';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { ExtensionTypeUrl, TypeUrl } from '../../src/resource/index.js';
import { createServer, type NackEvent } from '../../src/server/index.js';
import type { Cluster, Listener, RouteConfiguration } from '../../src/types/index.js';
import { ADS, ROUTER_FILTER, adsBootstrap, httpGet, servedBy } from '../support/ads-envoy.js';
import { startEchoServer } from '../support/echo-server.js';
import { envoyTest, startEnvoy, waitFor } from '../support/envoy.js';
import { dumpedVersions } from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';

const NODE_ID = 'new-fields';

envoyTest('Envoy ACKs a cluster and a listener using fields and extensions new in the 1.40 API, and serves traffic through them', async () => {
  const echo = await startEchoServer({ name: 'backend-1' });
  const cache = new SnapshotCache({ ads: true });
  const nacks: NackEvent[] = [];
  const xds = createServer(cache, { callbacks: { onNack: (nack) => void nacks.push(nack) } });
  const xdsPort = await xds.listen('127.0.0.1:0');
  const listenerPort = await freePort();

  const cluster: Cluster = {
    name: 'backend',
    type: 'STRICT_DNS',
    connect_timeout: '1s',
    dns_refresh_rate: '5s',
    dns_jitter: '0.5s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions', idle_timeout: '30s' },
    },
    load_assignment: {
      cluster_name: 'backend',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echo.port } } } }] }],
    },
  };
  const route: RouteConfiguration = {
    name: 'routes',
    vhost_header: 'x-vhost',
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        request_body_buffer_limit: 65536,
        routes: [{ match: { prefix: '/old' }, route: { cluster: 'backend', path_rewrite: '/new' } }, { match: { prefix: '/' }, route: { cluster: 'backend' } }],
      },
    ],
  };
  const listener: Listener = {
    name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
    tcp_keepalive: { keepalive_time: 60, keepalive_interval: 10, keepalive_probes: 3 },
    listener_filters: [
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
      { name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } },
    ],
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': ExtensionTypeUrl.HTTPConnectionManager,
              stat_prefix: 'ingress',
              stream_flush_timeout: '10s',
              http1_safe_max_connection_duration: true,
              rds: { route_config_name: 'routes', config_source: ADS },
              http_filters: [{ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }, ROUTER_FILTER],
            },
          },
        ],
      },
    ],
  };
  const snapshot = new Snapshot('new-fields-1', { [TypeUrl.Cluster]: [cluster], [TypeUrl.Route]: [route], [TypeUrl.Listener]: [listener] });
  snapshot.consistent();
  await cache.setSnapshot(NODE_ID, snapshot);

  const envoy = await startEnvoy({ name: 'new-fields', bootstrap: adsBootstrap({ nodeId: NODE_ID, xdsPort }) });
  try {
    const answer = await waitFor(async () => {
      const a = await httpGet(listenerPort, { path: '/old/page' }).catch(() => undefined);
      return a?.status === 200 ? a : undefined;
    }, { timeoutMs: 20_000, what: 'traffic through the new listener' });
    assert.equal(servedBy(answer), 'Request served by backend-1');
    assert.match(answer.body, /^HTTP\/1\.1 GET \/new$/m, 'path_rewrite rewrote the path');
    const versions = await dumpedVersions(envoy);
    assert.equal(versions.clusters['backend'], 'new-fields-1', 'the cluster is ACKed and active');
    assert.equal(versions.listeners['ingress'], 'new-fields-1', 'the listener is ACKed and active');
    assert.equal(versions.routes['routes'], 'new-fields-1', 'the route configuration is ACKed');
    assert.deepEqual(nacks, [], 'Envoy NACKed nothing');
  } finally {
    await envoy.stop();
    await xds.close({ deadlineMs: 1000 });
    await echo.close();
  }
}, { timeout: 90_000 });
