// Envoy warms a cluster it replaces until it receives the cluster's endpoints, and a listener until it receives
// its routes. When an EDS cluster changes (here its connect_timeout) and its ClusterLoadAssignment does not, the
// endpoints must still reach Envoy again, or the new cluster stays warming until `initial_fetch_timeout` (15 s
// by default). In every gRPC mode: the change is active within 1 s and traffic through the cluster never fails.
//
// XDS_E2E_DEBUG=1 prints every request and response of the update with its time since `setSnapshot`.
import assert from 'node:assert/strict';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type Callbacks } from '../../src/server/index.js';
import { configSection, envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import {
  assignment,
  configSource,
  edsCluster,
  httpGet,
  keepRequesting,
  httpListener,
  isAds,
  modeBootstrap,
  routeConfig,
  servedBy,
  useUpstreams,
  type XdsMode,
} from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();
const DEBUG = process.env['XDS_E2E_DEBUG'] === '1';
const GRPC_MODES: readonly XdsMode[] = ['ads-sotw', 'ads-delta', 'sotw', 'delta'];

/** Requests and responses of the server, with their time since `mark()`. */
class WireLog {
  readonly lines: string[] = [];
  #start = performance.now();

  mark(): void {
    this.lines.length = 0;
    this.#start = performance.now();
  }

  add(line: string): void {
    this.lines.push(`${(performance.now() - this.#start).toFixed(0).padStart(6)} ms  ${line}`);
  }

  callbacks(): Callbacks {
    const short = (typeUrl: string | undefined): string => (typeUrl ?? '').split('.').pop() ?? '';
    return {
      onStreamRequest: (id, r) =>
        this.add(`stream ${id} <- ${short(r.type_url)} version "${r.version_info}" nonce "${r.response_nonce}" names [${r.resource_names.join(',')}]${r.error_detail ? ' NACK' : ''}`),
      onStreamResponse: (id, _r, response, nonce) =>
        this.add(`stream ${id} -> ${short(response.typeUrl)} version "${response.version}" nonce "${nonce}" [${response.resources.map((x) => x.name).join(',')}]`),
      onStreamDeltaRequest: (id, r) =>
        this.add(`stream ${id} <- ${short(r.type_url)} nonce "${r.response_nonce}" subscribe [${r.resource_names_subscribe.join(',')}] unsubscribe [${r.resource_names_unsubscribe.join(',')}]${r.error_detail ? ' NACK' : ''}`),
      onStreamDeltaResponse: (id, _r, response, nonce) =>
        this.add(`stream ${id} -> ${short(response.typeUrl)} nonce "${nonce}" [${response.resources.map((x) => x.name).join(',')}] removed [${response.removed.join(',')}]`),
    };
  }
}

interface ClusterState {
  /** connect_timeout of the active cluster, e.g. `2s`. */
  active: string | undefined;
  /** Names of the clusters warming. */
  warming: string[];
}

async function clusterState(envoy: EnvoyInstance, name: string): Promise<ClusterState> {
  const section = configSection(await envoy.configDump(), 'ClustersConfigDump') as
    | {
        dynamic_active_clusters?: Array<{ cluster?: { name?: string; connect_timeout?: string } }>;
        dynamic_warming_clusters?: Array<{ cluster?: { name?: string } }>;
      }
    | undefined;
  const active = section?.dynamic_active_clusters?.find((c) => c.cluster?.name === name)?.cluster?.connect_timeout;
  return { active, warming: (section?.dynamic_warming_clusters ?? []).map((c) => c.cluster?.name ?? '') };
}

/**
 * One cluster `a` with connect timeout `timeout`; endpoints at version `e1` whatever the cluster's version.
 * `edsSource` is the cluster's EDS config source (default: `source`).
 */
function snapshot(clusterVersion: string, timeout: `${number}s`, listenerPort: number, source: Record<string, unknown>, port: number, edsSource = source): Snapshot {
  return new Snapshot(
    clusterVersion,
    {
      [TypeUrl.Listener]: [httpListener('http', listenerPort, 'routes', source)],
      [TypeUrl.Route]: [routeConfig('routes', [{ prefix: '/', cluster: 'a' }])],
      [TypeUrl.Cluster]: [{ ...edsCluster('a', edsSource), connect_timeout: timeout }],
      [TypeUrl.Endpoint]: [assignment('a', port)],
    },
    { versions: { [TypeUrl.Listener]: 'l1', [TypeUrl.Route]: 'r1', [TypeUrl.Endpoint]: 'e1' } },
  );
}

async function clusterChangeWithSameEndpoints(mode: XdsMode, options: { initialFetchTimeout?: string; changes?: number; workers?: number } = {}): Promise<void> {
  const nodeId = `warming-${mode}${options.workers === undefined ? '' : '-workers'}`;
  const log = new WireLog();
  const cache = new SnapshotCache({ ads: isAds(mode) });
  // The worker mode has no request and response callbacks (they would run in a worker): no wire log there.
  const xds = options.workers === undefined ? createServer(cache, { callbacks: log.callbacks() }) : createServer(cache, { workers: options.workers });
  let envoy: EnvoyInstance | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const bootstrapOptions = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(bootstrapOptions);
    const edsSource = options.initialFetchTimeout === undefined ? source : { ...source, initial_fetch_timeout: options.initialFetchTimeout };
    const listenerPort = await freePort();
    const a = upstreams.a.port;
    await cache.setSnapshot(nodeId, snapshot('c1', '1s', listenerPort, source, a, edsSource));
    envoy = await startEnvoy({ name: nodeId, bootstrap: modeBootstrap(bootstrapOptions) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await httpGet(listenerPort)).ok, 10_000, 'traffic through Envoy');
    await proxy.waitFor(async () => cache.getStatusInfo(nodeId)?.types.get(TypeUrl.Cluster)?.lastAckedVersion === 'c1' || mode.endsWith('delta'), 5_000, 'CDS c1 ACKed');
    // Let Envoy settle (its last ACKs) before the change.
    await new Promise((resolve) => setTimeout(resolve, 300));

    for (let change = 2; change <= (options.changes ?? 1) + 1; change++) {
      const timeout = `${change}s` as const;
      const traffic = keepRequesting(listenerPort);
      log.mark();
      const started = performance.now();
      await cache.setSnapshot(nodeId, snapshot(`c${change}`, timeout, listenerPort, source, a, edsSource));
      let state: ClusterState = { active: undefined, warming: [] };
      while (performance.now() - started < 3_000) {
        state = await clusterState(proxy, 'a');
        if (state.active === timeout && state.warming.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const elapsed = performance.now() - started;
      // Traffic keeps flowing a little after the switch.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { sent, failed } = await traffic.stop();
      if (DEBUG) console.log(`${mode}: change ${change - 1} active after ${elapsed.toFixed(0)} ms\n${log.lines.join('\n')}`);

      assert.deepEqual(state, { active: timeout, warming: [] }, `${mode}: the changed cluster is active and nothing warms 3 s after the update (wire: \n${log.lines.join('\n')})`);
      assert.ok(elapsed < 1_000, `${mode}: the changed cluster became active after ${elapsed.toFixed(0)} ms, more than 1 s`);
      assert.ok(sent > 0, 'requests were sent during the change');
      assert.deepEqual(failed, [], `${mode}: every request through the changing cluster succeeded (${sent} sent)`);
    }
  } finally {
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of GRPC_MODES) {
  void envoyTest(`${mode}: a cluster changed with unchanged endpoints is active within 1 s and traffic never fails`, () => clusterChangeWithSameEndpoints(mode), {
    timeout: 30_000,
  });
}

// In the worker mode the streams are served by worker processes, which hold the resources as the primary's
// bytes only: they must still find which assignments a changed cluster takes its endpoints from.
for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  void envoyTest(`${mode}, 2 workers: a cluster changed with unchanged endpoints is active within 1 s and traffic never fails`, () =>
    clusterChangeWithSameEndpoints(mode, { workers: 2 }), { timeout: 30_000 });
}

// With `initial_fetch_timeout: 0s` Envoy never stops waiting for the endpoints, and later changes of the cluster
// queue behind the one warming: each of three changes must be active within 1 s.
for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  void envoyTest(`${mode}: with initial_fetch_timeout 0s, each of three cluster changes with unchanged endpoints is active within 1 s`, () =>
    clusterChangeWithSameEndpoints(mode, { initialFetchTimeout: '0s', changes: 3 }), { timeout: 30_000 });
}

// In state of the world, the answer to Envoy's repeated EDS request carries only the changed cluster's
// assignment: Envoy hands each EDS cluster what the response holds for it and leaves the others as they are.
void envoyTest('ads-sotw: after one of two clusters changes, Envoy is sent only its endpoints and both clusters keep serving', async () => {
  const mode = 'ads-sotw';
  const nodeId = 'warming-two-clusters';
  const log = new WireLog();
  const sentEndpoints: string[][] = [];
  const callbacks = log.callbacks();
  const cache = new SnapshotCache({ ads: true });
  const xds = createServer(cache, {
    callbacks: {
      ...callbacks,
      onStreamResponse: (id, request, response, nonce) => {
        callbacks.onStreamResponse?.(id, request, response, nonce);
        if (response.typeUrl === TypeUrl.Endpoint) sentEndpoints.push(response.resources.map((r) => r.name));
      },
    },
  });
  let envoy: EnvoyInstance | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const bootstrapOptions = { mode, nodeId, controlPlane: { grpc } } as const;
    const source = configSource(bootstrapOptions);
    const listenerPort = await freePort();
    const two = (version: string, timeoutOfA: `${number}s`): Snapshot =>
      new Snapshot(
        version,
        {
          [TypeUrl.Listener]: [httpListener('http', listenerPort, 'routes', source)],
          [TypeUrl.Route]: [routeConfig('routes', [{ prefix: '/b', cluster: 'b' }, { prefix: '/', cluster: 'a' }])],
          [TypeUrl.Cluster]: [{ ...edsCluster('a', source), connect_timeout: timeoutOfA }, edsCluster('b', source)],
          [TypeUrl.Endpoint]: [assignment('a', upstreams.a.port), assignment('b', upstreams.b.port)],
        },
        { versions: { [TypeUrl.Listener]: 'l1', [TypeUrl.Route]: 'r1', [TypeUrl.Endpoint]: 'e1' } },
      );
    await cache.setSnapshot(nodeId, two('c1', '1s'));
    envoy = await startEnvoy({ name: 'warming-two-clusters', bootstrap: modeBootstrap(bootstrapOptions) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await servedBy(listenerPort, '/b')) === 'B' && (await servedBy(listenerPort, '/')) === 'A', 10_000, 'traffic to both clusters');
    await proxy.waitFor(() => cache.getStatusInfo(nodeId)?.types.get(TypeUrl.Endpoint)?.lastAckedVersion === 'e1', 5_000, 'EDS e1 ACKed');
    await new Promise((resolve) => setTimeout(resolve, 300));

    const toA = keepRequesting(listenerPort, 'A', '/');
    const toB = keepRequesting(listenerPort, 'B', '/b');
    log.mark();
    sentEndpoints.length = 0;
    const started = performance.now();
    await cache.setSnapshot(nodeId, two('c2', '2s'));
    let state: ClusterState = { active: undefined, warming: [] };
    while (performance.now() - started < 3_000) {
      state = await clusterState(proxy, 'a');
      if (state.active === '2s' && state.warming.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const elapsed = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [a, b] = await Promise.all([toA.stop(), toB.stop()]);
    const wire = `(wire:\n${log.lines.join('\n')})`;

    assert.deepEqual(state, { active: '2s', warming: [] }, `the changed cluster is active and nothing warms ${wire}`);
    assert.ok(elapsed < 1_000, `the changed cluster became active after ${elapsed.toFixed(0)} ms, more than 1 s ${wire}`);
    assert.deepEqual(sentEndpoints, [['a']], `one EDS response, with the changed cluster's assignment only ${wire}`);
    assert.deepEqual([a.failed, b.failed], [[], []], `every request succeeded (${a.sent} to a, ${b.sent} to b)`);
    const hosts = (await proxy.clusters()).cluster_statuses?.find((c) => c.name === 'b')?.host_statuses ?? [];
    assert.deepEqual(hosts.map((h) => h.address?.socket_address?.port_value), [upstreams.b.port], 'cluster b keeps its endpoint');
    assert.equal(await servedBy(listenerPort, '/b'), 'B');
    await proxy.waitFor(() => cache.getStatusInfo(nodeId)?.types.get(TypeUrl.Endpoint)?.lastAckedVersion === 'e1', 2_000, 'the partial EDS response ACKed');
  } finally {
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}, { timeout: 30_000 });
