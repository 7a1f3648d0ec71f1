// Real Envoy fetching, over state-of-the-world ADS, the resource types beyond listeners, routes, clusters and
// endpoints: secrets (SDS), runtime layers (RTDS), HTTP filter configs (ECDS) and scoped routes (SRDS). One
// Envoy serves every test of this file; each test changes its own part of the snapshot and checks what Envoy
// does with it, from the outside (a TLS client, /runtime, HTTP status codes, which upstream answers).
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, describe } from 'node:test';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { ExtensionTypeUrl, TypeUrl } from '../../src/resource/index.js';
import type { JsonObject } from '../../src/types/index.js';
import { createServer, type NackEvent, type XdsServer } from '../../src/server/index.js';
import { ADS, ROUTER_FILTER, adsBootstrap, catchAllRoute, httpGet, httpListener, servedBy, staticCluster, type HttpAnswer } from '../support/ads-envoy.js';
import { startEchoServer, type EchoServer } from '../support/echo-server.js';
import { configSection, envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { freePort } from '../support/ports.js';
import { selfSignedCertificate, type SelfSigned } from '../support/tls-certs.js';

const NODE_ID = 'resource-types-sotw';
const SECRET_NAME = 'server-cert';
const RUNTIME_LAYER = 'rtds-layer';
const FAULT_FILTER = 'fault-from-ecds';
const SCOPE_HEADER = 'x-tenant';

/** What the tests change; every change is published as a new snapshot version. */
interface State {
  cert: SelfSigned;
  runtime: JsonObject;
  /** Abort status of the fault filter, or undefined for a fault filter that never aborts. */
  abortStatus: number | undefined;
  /** Scope key → route configuration name. */
  scopes: Record<string, string>;
}

interface Setup {
  envoy: EnvoyInstance;
  cache: SnapshotCache;
  xds: XdsServer;
  echo: [EchoServer, EchoServer];
  ports: { tls: number; ecds: number; srds: number };
  state: State;
  nacks: NackEvent[];
  publish(change: Partial<State>): Promise<string>;
}

let version = 0;

function buildSnapshot(s: Setup): Snapshot {
  const { state, ports, echo } = s;
  const tlsTransport = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': ExtensionTypeUrl.DownstreamTlsContext,
      common_tls_context: { tls_certificate_sds_secret_configs: [{ name: SECRET_NAME, sds_config: ADS }] },
    },
  };
  const fault =
    state.abortStatus === undefined
      ? { '@type': ExtensionTypeUrl.Fault }
      : { '@type': ExtensionTypeUrl.Fault, abort: { http_status: state.abortStatus, percentage: { numerator: 100, denominator: 'HUNDRED' } } };
  return new Snapshot(String(++version), {
    [TypeUrl.Cluster]: [staticCluster('service1', echo[0].port), staticCluster('service2', echo[1].port)],
    [TypeUrl.Listener]: [
      httpListener('tls', ports.tls, { route_config: catchAllRoute('tls-route', 'service1') }, tlsTransport),
      httpListener('ecds', ports.ecds, {
        route_config: catchAllRoute('ecds-route', 'service1'),
        http_filters: [
          { name: FAULT_FILTER, config_discovery: { config_source: ADS, type_urls: [ExtensionTypeUrl.Fault] } },
          ROUTER_FILTER,
        ],
      }),
      httpListener('srds', ports.srds, {
        scoped_routes: {
          name: 'tenant-scopes',
          scope_key_builder: { fragments: [{ header_value_extractor: { name: SCOPE_HEADER, element_separator: ';', index: 0 } }] },
          rds_config_source: ADS,
          scoped_rds: { scoped_rds_config_source: ADS },
        },
      }),
    ],
    [TypeUrl.Route]: [catchAllRoute('route-1', 'service1'), catchAllRoute('route-2', 'service2')],
    [TypeUrl.ScopedRoute]: Object.entries(state.scopes).map(([key, route]) => ({
      name: `scope-${key}`,
      route_configuration_name: route,
      key: { fragments: [{ string_key: key }] },
    })),
    [TypeUrl.Secret]: [
      {
        name: SECRET_NAME,
        tls_certificate: { certificate_chain: { inline_string: state.cert.certPem }, private_key: { inline_string: state.cert.keyPem } },
      },
    ],
    [TypeUrl.Runtime]: [{ name: RUNTIME_LAYER, layer: state.runtime }],
    [TypeUrl.ExtensionConfig]: [{ name: FAULT_FILTER, typed_config: fault }],
  });
}

let shared: Promise<Setup> | undefined;

async function start(): Promise<Setup> {
  const echo: [EchoServer, EchoServer] = [await startEchoServer({ name: 'service1' }), await startEchoServer({ name: 'service2' })];
  const cache = new SnapshotCache({ ads: true });
  const nacks: NackEvent[] = [];
  const xds = createServer(cache, { callbacks: { onNack: (nack) => void nacks.push(nack) } });
  const xdsPort = await xds.listen('127.0.0.1:0');
  const setup: Setup = {
    envoy: undefined as unknown as EnvoyInstance,
    cache,
    xds,
    echo,
    ports: { tls: await freePort(), ecds: await freePort(), srds: await freePort() },
    state: {
      cert: selfSignedCertificate('first.test'),
      runtime: { 'e2e.greeting': 'hello', 'e2e.percent': 10 },
      abortStatus: 418,
      scopes: { a: 'route-1', b: 'route-2' },
    },
    nacks,
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
    name: 'resource-types-sotw',
    bootstrap: adsBootstrap({
      nodeId: NODE_ID,
      xdsPort,
      extra: {
        layered_runtime: {
          layers: [
            { name: 'static', static_layer: { 'e2e.greeting': 'from-bootstrap' } },
            { name: RUNTIME_LAYER, rtds_layer: { name: RUNTIME_LAYER, rtds_config: ADS } },
          ],
        },
      },
    }),
  });
  return setup;
}

/** The Envoy of this file, started by the first test that needs it. */
function envoySetup(): Promise<Setup> {
  shared ??= start();
  return shared;
}

after(async () => {
  const setup = await shared?.catch(() => undefined);
  if (!setup) return;
  await setup.envoy?.stop();
  await setup.xds.close({ deadlineMs: 1000 });
  await Promise.all(setup.echo.map((e) => e.close()));
});

/** `/runtime` output. */
interface RuntimeDump {
  layers: string[];
  entries: Record<string, { final_value?: string; layer_values?: string[] } | undefined>;
}

interface TlsAnswer {
  status: number;
  body: string;
  fingerprint: string;
}

/** HTTPS GET through Envoy's TLS listener, trusting only `ca` (host name not checked: the certificate has no SAN). */
function httpsGet(port: number, ca: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/', agent: false, ca, checkServerIdentity: () => undefined, timeout: 5_000 },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), fingerprint }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('HTTPS request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('Envoy fetches every dynamic resource type over SotW ADS', () => {
  void envoyTest('SDS: the TLS listener serves the certificate of our Secret, and the rotated one after an update', async () => {
    const s = await envoySetup();
    const first = s.state.cert;
    const answer = await s.envoy.waitFor(() => httpsGet(s.ports.tls, first.certPem), 10_000, 'HTTPS through the SDS listener');
    assert.equal(answer.fingerprint, first.fingerprint256);
    assert.equal(servedBy(answer), 'Request served by service1');

    const second = selfSignedCertificate('second.test');
    const rotated = await s.publish({ cert: second });
    const after = await s.envoy.waitFor(
      async () => {
        const a = await httpsGet(s.ports.tls, second.certPem);
        return a.fingerprint === second.fingerprint256 ? a : undefined;
      },
      10_000,
      'the rotated certificate',
    );
    assert.equal(after.status, 200);
    // The old certificate is no longer offered: a client that trusts only it fails.
    await assert.rejects(httpsGet(s.ports.tls, first.certPem));
    const secrets = configSection(await s.envoy.configDump(), 'SecretsConfigDump') as { dynamic_active_secrets?: Array<{ name: string; version_info: string }> } | undefined;
    assert.deepEqual(secrets?.dynamic_active_secrets?.map((x) => [x.name, x.version_info]), [[SECRET_NAME, rotated]]);
    assert.deepEqual(s.nacks, []);
  });

  void envoyTest('RTDS: the values of our Runtime layer show in /runtime over the bootstrap layer, and follow updates', async () => {
    const s = await envoySetup();
    const runtime = (): Promise<RuntimeDump> => s.envoy.adminJson<RuntimeDump>('/runtime');
    const first = await runtime();
    assert.deepEqual(first.layers, ['static', RUNTIME_LAYER]);
    assert.equal(first.entries['e2e.greeting']?.final_value, 'hello');
    assert.deepEqual(first.entries['e2e.greeting']?.layer_values, ['from-bootstrap', 'hello']);
    assert.equal(first.entries['e2e.percent']?.final_value, '10');

    await s.publish({ runtime: { 'e2e.greeting': 'bonjour', 'e2e.added': true } });
    const second = await s.envoy.waitFor(async () => {
      const r = await runtime();
      return r.entries['e2e.greeting']?.final_value === 'bonjour' ? r : undefined;
    }, 10_000, 'the updated runtime layer');
    assert.equal(second.entries['e2e.added']?.final_value, 'true');
    // A key the new layer no longer has is gone (the layer is replaced, not merged).
    assert.equal(second.entries['e2e.percent'], undefined);
    assert.deepEqual(s.nacks, []);
  });

  void envoyTest('ECDS: the HCM filter delivered by extension config discovery aborts with our status, then follows its update', async () => {
    const s = await envoySetup();
    await s.publish({ abortStatus: 418 });
    const aborted = await s.envoy.waitFor(async () => {
      const a = await httpGet(s.ports.ecds);
      return a.status === 418 ? a : undefined;
    }, 10_000, 'the fault filter from ECDS to abort with 418');
    assert.match(aborted.body, /fault filter abort/);

    await s.publish({ abortStatus: 429 });
    await s.envoy.waitFor(async () => (await httpGet(s.ports.ecds)).status === 429, 10_000, 'abort status 429 after the update');

    await s.publish({ abortStatus: undefined });
    const passed = await s.envoy.waitFor(async () => {
      const a = await httpGet(s.ports.ecds);
      return a.status === 200 ? a : undefined;
    }, 10_000, 'a fault filter that no longer aborts');
    assert.equal(servedBy(passed), 'Request served by service1');
    const ecds = configSection(await s.envoy.configDump(), 'EcdsConfigDump') as { ecds_filters?: Array<{ ecds_filter?: { name?: string } }> } | undefined;
    assert.deepEqual(ecds?.ecds_filters?.map((f) => f.ecds_filter?.name), [FAULT_FILTER]);
    assert.deepEqual(s.nacks, []);
  });

  void envoyTest('SRDS: requests go to the route configuration of the scope their header selects, and scopes follow updates', async () => {
    const s = await envoySetup();
    const get = (tenant: string): Promise<HttpAnswer> => httpGet(s.ports.srds, { headers: { [SCOPE_HEADER]: tenant } });
    await s.envoy.waitFor(async () => (await get('a')).status === 200, 10_000, 'scope a to route');
    assert.equal(servedBy(await get('a')), 'Request served by service1');
    assert.equal(servedBy(await get('b;extra')), 'Request served by service2');
    assert.equal((await get('c')).status, 404, 'no scope has key c yet');

    // Add scope c (to route-2) and move scope a to route-2.
    await s.publish({ scopes: { a: 'route-2', b: 'route-2', c: 'route-2' } });
    await s.envoy.waitFor(async () => (await get('c')).status === 200, 10_000, 'the new scope c');
    assert.equal(servedBy(await get('c')), 'Request served by service2');
    await s.envoy.waitFor(async () => servedBy(await get('a')) === 'Request served by service2', 10_000, 'scope a moved to route-2');

    // Remove scope c: its key routes nowhere again.
    await s.publish({ scopes: { a: 'route-1', b: 'route-2' } });
    await s.envoy.waitFor(async () => (await get('c')).status === 404, 10_000, 'scope c removed');
    // Envoy applies the scopes of one update one by one: scope a may move back after c is gone.
    await s.envoy.waitFor(async () => servedBy(await get('a')) === 'Request served by service1', 10_000, 'scope a back on route-1');
    const scoped = configSection(await s.envoy.configDump(), 'ScopedRoutesConfigDump') as
      | { dynamic_scoped_route_configs?: Array<{ name?: string; scoped_route_configs?: Array<{ name?: string }> }> }
      | undefined;
    assert.deepEqual(scoped?.dynamic_scoped_route_configs?.[0]?.scoped_route_configs?.map((c) => c.name).sort(), ['scope-a', 'scope-b']);
    assert.deepEqual(s.nacks, []);
  });
});
