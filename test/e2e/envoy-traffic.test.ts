// Updates under traffic: while clients send HTTP requests through real Envoy without pause, the control plane
// switches endpoints, adds a cluster and moves the route (and the listener, onto a new route configuration) to
// it, then removes a cluster no longer routed to. No request may fail: ADS ordering (clusters and their
// endpoints before the listeners and routes that use them) and Envoy's warming must hide every step. Over ADS
// state-of-the-world and ADS delta.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotCache } from '../../src/cache/index.js';
import { createServer } from '../../src/server/index.js';
import { envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { configSource, dumpedVersions, httpGet, modeBootstrap, proxySnapshot, type XdsMode, useUpstreams } from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();

/** A failed request: connection error, or a status other than 200. */
interface Failure {
  atMs: number;
  step: string;
  what: string;
}

/**
 * Clients sending requests through Envoy: `workers` loops over keep-alive connections, each at most
 * `perWorkerPerSecond` requests a second, until stopped or `maxMs` elapsed.
 */
function startTraffic(port: number, stepOf: () => string, options = { workers: 4, perWorkerPerSecond: 60, maxMs: 20_000 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: options.workers });
  const started = Date.now();
  const failures: Failure[] = [];
  const recent: string[] = [];
  let total = 0;
  let keepAliveRaces = 0;
  let stopped = false;
  const interval = 1000 / options.perWorkerPerSecond;
  const worker = async (): Promise<void> => {
    while (!stopped && Date.now() - started < options.maxMs) {
      const begun = Date.now();
      let result = await httpGet(port, '/', agent, 5_000);
      if (!result.ok && result.reusedSocket && result.error === 'ECONNRESET') {
        // Envoy closed an idle kept-alive connection (a draining listener does) as we sent on it: the request
        // never reached Envoy. Retry it on a new connection, as HTTP clients do (Node's documentation, Go's
        // Transport for idempotent requests).
        // (Other pooled connections may be closing too: the retry takes a fresh one.)
        keepAliveRaces++;
        result = await httpGet(port, '/', undefined, 5_000);
      }
      total++;
      if (!result.ok) failures.push({ atMs: Date.now() - started, step: stepOf(), what: result.error });
      else if (result.status !== 200) failures.push({ atMs: Date.now() - started, step: stepOf(), what: `${result.status} ${result.body.slice(0, 100)}` });
      else {
        recent.push(result.servedBy ?? '?');
        if (recent.length > 20) recent.shift();
      }
      const pause = interval - (Date.now() - begun);
      if (pause > 0) await sleep(pause);
    }
  };
  const done = Promise.all(Array.from({ length: options.workers }, worker));
  return {
    failures,
    get total() {
      return total;
    },
    /** Requests retried because Envoy closed their kept-alive connection as they were sent. */
    get keepAliveRaces() {
      return keepAliveRaces;
    },
    /** Whether the last 20 answers all came from `name`. */
    settledOn: (name: string) => recent.length === 20 && recent.every((n) => n === name),
    async stop(): Promise<number> {
      stopped = true;
      await done;
      agent.destroy();
      return Date.now() - started;
    },
  };
}

async function trafficScenario(mode: XdsMode): Promise<void> {
  const nodeId = `traffic-${mode}`;
  const cache = new SnapshotCache({ ads: true });
  const xds = createServer(cache);
  let envoy: EnvoyInstance | undefined;
  let traffic: ReturnType<typeof startTraffic> | undefined;
  let step = 'start';
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const options = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const a = upstreams.a.port;
    const b = upstreams.b.port;

    await cache.setSnapshot(nodeId, proxySnapshot({ version: '1', listenerPort, source, clusters: { one: [a] }, routes: [{ prefix: '/', cluster: 'one' }] }));
    // A draining listener keeps its connections, and the route configuration they use, for --drain-time-s
    // (600 s by default); 1 s keeps the test short.
    envoy = await startEnvoy({ name: `traffic-${mode}`, bootstrap: modeBootstrap(options), args: ['--drain-time-s', '1'] });
    const proxy = envoy;
    await proxy.waitFor(async () => (await httpGet(listenerPort)).ok, 10_000, 'the listener to answer');

    traffic = startTraffic(listenerPort, () => step);
    const flow = traffic;
    await proxy.waitFor(() => flow.settledOn('A'), 10_000, 'traffic served by A');

    // 1. Switch upstreams: cluster one's endpoints move from A to B (EDS only).
    step = 'endpoints A→B';
    await cache.setSnapshot(nodeId, proxySnapshot({ version: '2', listenerPort, source, clusters: { one: [b] }, routes: [{ prefix: '/', cluster: 'one' }] }));
    await proxy.waitFor(() => flow.settledOn('B'), 10_000, 'traffic served by B');

    // 2. Add cluster two (endpoints A) and, in the same snapshot, a new route configuration sending / to it,
    //    with the listener moved onto that route configuration (Envoy warms the new listener on RDS).
    step = 'new cluster, new route, listener moved';
    await cache.setSnapshot(
      nodeId,
      proxySnapshot({
        version: '3',
        listenerPort,
        source,
        clusters: { one: [b], two: [a] },
        routeName: 'routes-2',
        routes: [
          { prefix: '/one', cluster: 'one' },
          { prefix: '/', cluster: 'two' },
        ],
      }),
    );
    await proxy.waitFor(() => flow.settledOn('A'), 10_000, 'traffic served by A through cluster two');
    // The listener's previous filter chain drains with its connections, still routing / to cluster one through
    // route configuration `routes`: cluster one is unused only once that is over.
    await proxy.waitFor(
      async () => {
        const stats = await proxy.stats('^listener_manager\\.total_filter_chains_draining$|^listener_manager\\.total_listeners_draining$');
        return stats['listener_manager.total_filter_chains_draining'] === 0 && stats['listener_manager.total_listeners_draining'] === 0;
      },
      10_000,
      'the old filter chain to drain',
    );

    // 3. Remove cluster one, no longer routed to.
    step = 'unrouted cluster removed';
    await cache.setSnapshot(
      nodeId,
      proxySnapshot({ version: '4', listenerPort, source, clusters: { two: [a] }, routeName: 'routes-2', routes: [{ prefix: '/', cluster: 'two' }] }),
    );
    await proxy.waitFor(async () => {
      const clusters = (await dumpedVersions(proxy)).clusters;
      return !('one' in clusters) && 'two' in clusters;
    }, 10_000, 'cluster one removed');

    // 4. Endpoints of the remaining cluster move to B while it serves.
    step = 'endpoints A→B again';
    await cache.setSnapshot(
      nodeId,
      proxySnapshot({ version: '5', listenerPort, source, clusters: { two: [b] }, routeName: 'routes-2', routes: [{ prefix: '/', cluster: 'two' }] }),
    );
    await proxy.waitFor(() => flow.settledOn('B'), 10_000, 'traffic served by B through cluster two');
    step = 'steady';
    await sleep(300);

    const elapsed = await flow.stop();
    traffic = undefined;
    assert.deepEqual(flow.failures, [], 'no request failed');
    assert.ok(flow.total > 100, `enough requests (${flow.total} in ${elapsed} ms)`);
    assert.ok(flow.keepAliveRaces <= 4, `at most one keep-alive race per connection (${flow.keepAliveRaces})`);
    assert.ok(flow.total / (elapsed / 1000) <= 300, `bounded rate (${flow.total} in ${elapsed} ms)`);
    const dumped = await dumpedVersions(proxy);
    assert.deepEqual(Object.keys(dumped.clusters), ['two']);
    assert.deepEqual(Object.keys(dumped.routes).sort(), ['routes-2']);
    assert.deepEqual(dumped.endpoints, { two: [b] });
  } finally {
    await traffic?.stop();
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  void envoyTest(
    `under continuous traffic through Envoy (${mode}), switching endpoints, adding a cluster with a route to it and removing an unrouted cluster fail no request`,
    () => trafficScenario(mode),
    { timeout: 45_000 },
  );
}
