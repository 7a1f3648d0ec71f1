// Real Envoy fetching the resource types that exist only in incremental (delta) xDS: virtual hosts on demand
// (VHDS) and LbEndpoints of locality collections (LEDS). One Envoy serves every test of this file.
import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { Snapshot, SnapshotCache, withName } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type NackEvent, type XdsDeltaDiscoveryRequest, type XdsServer } from '../../src/server/index.js';
import { ADS, ROUTER_FILTER, adsBootstrap, catchAllRoute, httpGet, httpListener, servedBy, staticCluster, type HttpAnswer } from '../support/ads-envoy.js';
import { startEchoServer, type EchoServer } from '../support/echo-server.js';
import { configSection, envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { freePort } from '../support/ports.js';

const NODE_ID = 'resource-types-delta';
const VHDS_ROUTE = 'vhds-route';
const LEDS_COLLECTION = 'xdstp://test/envoy.config.endpoint.v3.LbEndpoint/foo';
const DEBUG = process.env['XDS_E2E_DEBUG'] === '1';

/** What the tests change; every change is published as a new snapshot version. */
interface State {
  /** Host → upstream cluster of the virtual hosts served by VHDS. */
  vhosts: Record<string, string>;
  /** Endpoint id → echo server index of the LEDS collection. */
  ledsEndpoints: Record<string, number>;
}

interface Setup {
  envoy: EnvoyInstance;
  cache: SnapshotCache;
  xds: XdsServer;
  echo: [EchoServer, EchoServer];
  ports: { vhds: number; leds: number };
  state: State;
  nacks: NackEvent[];
  requests: XdsDeltaDiscoveryRequest[];
  publish(change: Partial<State>): Promise<string>;
}

let version = 0;

function buildSnapshot(s: Setup): Snapshot {
  const { state, ports, echo } = s;
  return new Snapshot(String(++version), {
    [TypeUrl.Cluster]: [
      staticCluster('service1', echo[0].port),
      staticCluster('service2', echo[1].port),
      { name: 'leds-cluster', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: ADS } },
    ],
    [TypeUrl.Endpoint]: [
      {
        cluster_name: 'leds-cluster',
        endpoints: [
          {
            locality: { zone: 'foo' },
            leds_cluster_locality_config: { leds_config: ADS, leds_collection_name: `${LEDS_COLLECTION}/*` },
          },
        ],
      },
    ],
    [TypeUrl.LbEndpoint]: Object.entries(state.ledsEndpoints).map(([id, index]) =>
      withName(`${LEDS_COLLECTION}/${id}`, { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echo[index as 0 | 1].port } } } }),
    ),
    [TypeUrl.Listener]: [
      httpListener('vhds', ports.vhds, {
        rds: { route_config_name: VHDS_ROUTE, config_source: ADS },
        http_filters: [{ name: 'envoy.filters.http.on_demand', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.on_demand.v3.OnDemand' } }, ROUTER_FILTER],
      }),
      httpListener('leds', ports.leds, { route_config: catchAllRoute('leds-route', 'leds-cluster') }),
    ],
    [TypeUrl.Route]: [
      {
        name: VHDS_ROUTE,
        virtual_hosts: [{ name: 'static-host', domains: ['static.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'service1' } }] }],
        // Envoy's VHDS subscription opens with a request that names nothing, and its watch takes only virtual hosts
        // of this route configuration: without any to send, initialization would wait the default 15 s.
        vhds: { config_source: { ...ADS, initial_fetch_timeout: '0.5s' } },
      },
    ],
    [TypeUrl.VirtualHost]: Object.entries(state.vhosts).map(([host, cluster]) => ({
      name: `${VHDS_ROUTE}/${host}`,
      domains: [host],
      routes: [{ match: { prefix: '/' }, route: { cluster } }],
    })),
  });
}

let shared: Promise<Setup> | undefined;

async function start(): Promise<Setup> {
  const echo: [EchoServer, EchoServer] = [await startEchoServer({ name: 'service1' }), await startEchoServer({ name: 'service2' })];
  const cache = new SnapshotCache({ ads: true });
  const nacks: NackEvent[] = [];
  const requests: XdsDeltaDiscoveryRequest[] = [];
  const xds = createServer(cache, {
    callbacks: {
      onNack: (nack) => void nacks.push(nack),
      onStreamDeltaRequest: (_id, request) => {
        requests.push(request);
        if (DEBUG) console.log('delta request', request.type_url, request.resource_names_subscribe, request.resource_names_unsubscribe, request.response_nonce, request.error_detail?.message ?? '');
      },
      onStreamDeltaResponse: (_id, _request, response, nonce) => {
        if (DEBUG) console.log('delta response', response.typeUrl, response.resources.map((r) => r.name), response.removed, nonce);
      },
    },
  });
  const xdsPort = await xds.listen('127.0.0.1:0');
  const setup: Setup = {
    envoy: undefined as unknown as EnvoyInstance,
    cache,
    xds,
    echo,
    ports: { vhds: await freePort(), leds: await freePort() },
    state: { vhosts: { 'ondemand.test': 'service2' }, ledsEndpoints: { endpoint1: 0 } },
    nacks,
    requests,
    async publish(change) {
      Object.assign(this.state, change);
      const snapshot = buildSnapshot(this);
      snapshot.consistent();
      await cache.setSnapshot(NODE_ID, snapshot);
      return snapshot.version;
    },
  };
  await setup.publish({});
  setup.envoy = await startEnvoy({
    name: 'resource-types-delta',
    bootstrap: adsBootstrap({ nodeId: NODE_ID, xdsPort, apiType: 'DELTA_GRPC' }),
    ...(DEBUG ? { args: ['--component-log-level', 'config:debug,router:debug,upstream:debug'] } : {}),
  });
  return setup;
}

function envoySetup(): Promise<Setup> {
  shared ??= start();
  return shared;
}

after(async () => {
  const setup = await shared?.catch(() => undefined);
  if (!setup) return;
  if (DEBUG) console.log(setup.envoy.log());
  await setup.envoy?.stop();
  await setup.xds.close({ deadlineMs: 1000 });
  await Promise.all(setup.echo.map((e) => e.close()));
});

describe('Envoy fetches the delta-only resource types over delta ADS', () => {
  void envoyTest('VHDS: a request for a host the route configuration lacks is served after Envoy fetches its virtual host on demand', async () => {
    const s = await envoySetup();
    const get = (host: string): Promise<HttpAnswer> => httpGet(s.ports.vhds, { headers: { host } });
    await s.envoy.waitFor(async () => (await get('static.test')).status === 200, 10_000, 'the static virtual host');
    assert.equal(servedBy(await get('static.test')), 'Request served by service1');
    const subscribed = (): string[] => s.requests.filter((r) => r.type_url === TypeUrl.VirtualHost).flatMap((r) => r.resource_names_subscribe);
    assert.deepEqual(subscribed(), [], 'nothing fetched before a request needs it');

    // The on-demand filter holds the request while Envoy subscribes to <route config>/<host> and we answer.
    const answer = await get('ondemand.test');
    assert.equal(answer.status, 200, answer.body);
    assert.equal(servedBy(answer), 'Request served by service2');
    assert.deepEqual(subscribed(), [`${VHDS_ROUTE}/ondemand.test`]);

    // Envoy stays subscribed: an update of that virtual host is pushed and followed.
    await s.publish({ vhosts: { 'ondemand.test': 'service1' } });
    await s.envoy.waitFor(async () => servedBy(await get('ondemand.test')) === 'Request served by service1', 10_000, 'the updated virtual host');
    const dump = configSection(await s.envoy.configDump(), 'RoutesConfigDump') as
      | { dynamic_route_configs?: Array<{ route_config?: { name?: string; virtual_hosts?: Array<{ name?: string }> } }> }
      | undefined;
    const vhds = dump?.dynamic_route_configs?.find((c) => c.route_config?.name === VHDS_ROUTE);
    assert.deepEqual(vhds?.route_config?.virtual_hosts?.map((v) => v.name).sort(), ['static-host', `${VHDS_ROUTE}/ondemand.test`]);
    assert.deepEqual(s.nacks, []);
  });

  void envoyTest('VHDS: a request for a host that exists nowhere gets a prompt 404, not a hang', async () => {
    const s = await envoySetup();
    const get = (host: string): Promise<HttpAnswer> => httpGet(s.ports.vhds, { headers: { host } });
    await s.envoy.waitFor(async () => (await get('static.test')).status === 200, 10_000, 'the static virtual host');
    // We answer the on-demand name with an alias-only Resource; Envoy then completes the request with a 404.
    const started = Date.now();
    const answer = await get('nowhere.test');
    assert.equal(answer.status, 404, answer.body);
    assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    assert.deepEqual(s.nacks, []);
  });

  void envoyTest('LEDS: traffic reaches the endpoints of the glob collection, and follows when its members change', async () => {
    const s = await envoySetup();
    const first = await s.envoy.waitFor(async () => {
      const a = await httpGet(s.ports.leds);
      return a.status === 200 ? a : undefined;
    }, 10_000, 'traffic through the LEDS cluster');
    assert.equal(servedBy(first), 'Request served by service1');
    const leds = s.requests.filter((r) => r.type_url === TypeUrl.LbEndpoint).flatMap((r) => r.resource_names_subscribe);
    assert.deepEqual(leds, [`${LEDS_COLLECTION}/*`], 'Envoy subscribes to the glob collection');

    // Replace the collection's only member: endpoint1 removed, endpoint2 (service2) added.
    await s.publish({ ledsEndpoints: { endpoint2: 1 } });
    await s.envoy.waitFor(async () => servedBy(await httpGet(s.ports.leds)) === 'Request served by service2', 10_000, 'traffic to the new member');
    const hosts = (await s.envoy.clusters()).cluster_statuses?.find((c) => c.name === 'leds-cluster')?.host_statuses ?? [];
    assert.deepEqual(hosts.map((h) => h.address?.socket_address?.port_value), [s.echo[1].port]);
    assert.deepEqual(s.nacks, []);
  });
});
