// Real Envoy fetches its listener, route configuration (RDS), clusters (CDS) and endpoints (EDS) from our server
// in every way it can talk xDS: ADS state-of-the-world, ADS delta, per-type gRPC state-of-the-world, per-type
// delta, and REST polling. In each, HTTP traffic flows through Envoy to echo server A, a new snapshot moves it to
// B (a new cluster, a new route, new endpoints), an endpoints-only change moves it back, and config_dump shows
// our version strings.
import assert from 'node:assert/strict';
import { type Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl, type ResourceTypeUrl } from '../../src/resource/index.js';
import type { ClusterLoadAssignment } from '../../src/types/index.js';
import { createServer, type Callbacks } from '../../src/server/index.js';
import { envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import {
  configSource,
  dumpedVersions,
  isAds,
  isDelta,
  modeBootstrap,
  proxySnapshot,
  servedBy,
  XDS_MODES,
  type XdsMode, useUpstreams } from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();

/** What reached the server, to check that Envoy used the mode under test. */
interface Seen {
  sotwStreams: string[];
  deltaStreams: string[];
  fetches: string[];
  acks: Array<{ typeUrl: string; version: string; delta: boolean }>;
  nacks: string[];
  /** `version_info` of the last REST poll, by type. */
  lastFetchVersion: Map<string, string>;
}

function recorder(seen: Seen): Callbacks {
  return {
    onStreamOpen: (_id, typeUrl) => void seen.sotwStreams.push(typeUrl),
    onDeltaStreamOpen: (_id, typeUrl) => void seen.deltaStreams.push(typeUrl),
    onFetchRequest: (request) => {
      seen.fetches.push(request.type_url ?? '');
      seen.lastFetchVersion.set(request.type_url ?? '', request.version_info ?? '');
    },
    onAck: (ack) => void seen.acks.push({ typeUrl: ack.typeUrl, version: ack.version, delta: ack.delta }),
    onNack: (nack) => void seen.nacks.push(`${nack.typeUrl} ${nack.rejectedVersion}: ${nack.errorDetail.message}`),
  };
}

const XDS_TYPES = [TypeUrl.Listener, TypeUrl.Route, TypeUrl.Cluster, TypeUrl.Endpoint];

/**
 * The version config_dump shows for each resource, by type and name. SotW: the snapshot version in which the
 * resource last changed (Envoy ignores an identical listener or cluster and keeps the version it came with).
 * Delta: the resource's own version, its content hash.
 */
type Expected = Map<ResourceTypeUrl, Map<string, { hash: string; version: string }>>;

function expectVersions(previous: Expected, snapshot: Snapshot, mode: XdsMode): Expected {
  const next: Expected = new Map();
  for (const type of XDS_TYPES) {
    const byName = new Map<string, { hash: string; version: string }>();
    for (const [name, resource] of snapshot.getResources(type)) {
      const before = previous.get(type)?.get(name);
      const version = isDelta(mode) ? resource.hash : before?.hash === resource.hash ? before.version : snapshot.version;
      byName.set(name, { hash: resource.hash, version });
    }
    next.set(type, byName);
  }
  return next;
}

/**
 * Envoy holds exactly the snapshot's listener, route configuration and clusters at the versions `expected`
 * gives, and the snapshot's endpoints; it has accepted the snapshot's version of every type (SotW: ACKs; REST:
 * the version its polls carry).
 */
async function assertEnvoyHolds(envoy: EnvoyInstance, cache: SnapshotCache, seen: Seen, nodeId: string, snapshot: Snapshot, expected: Expected, mode: XdsMode): Promise<void> {
  const versions = (type: ResourceTypeUrl): Record<string, string> =>
    Object.fromEntries([...(expected.get(type) ?? [])].map(([name, { version }]) => [name, version]));
  const dumped = await dumpedVersions(envoy);
  assert.deepEqual(dumped.listeners, versions(TypeUrl.Listener), 'listener versions');
  assert.deepEqual(dumped.routes, versions(TypeUrl.Route), 'route configuration versions');
  assert.deepEqual(dumped.clusters, versions(TypeUrl.Cluster), 'cluster versions');
  const endpoints = Object.fromEntries(
    [...snapshot.getResources(TypeUrl.Endpoint)].map(([name, resource]) => [name, portsOf(resource.resource as ClusterLoadAssignment)]),
  );
  assert.deepEqual(dumped.endpoints, endpoints, 'endpoints');
  if (mode === 'rest') {
    await envoy.waitFor(
      () => XDS_TYPES.every((type) => seen.lastFetchVersion.get(type) === snapshot.version),
      5_000,
      `Envoy to poll with version ${snapshot.version} of every type`,
    );
  } else if (!isDelta(mode)) {
    await envoy.waitFor(
      () => XDS_TYPES.every((type) => cache.getStatusInfo(nodeId)?.types.get(type)?.lastAckedVersion === snapshot.version),
      5_000,
      `Envoy to ACK version ${snapshot.version} of every type`,
    );
  }
}

function portsOf(cla: ClusterLoadAssignment): number[] {
  return (cla.endpoints ?? []).flatMap((l) => l.lb_endpoints ?? []).map((lb) => Number(lb.endpoint?.address?.socket_address?.port_value ?? 0));
}

async function runMode(mode: XdsMode): Promise<void> {
  const nodeId = `envoy-${mode}`;
  const seen: Seen = { sotwStreams: [], deltaStreams: [], fetches: [], acks: [], nacks: [], lastFetchVersion: new Map() };
  const cache = new SnapshotCache({ ads: isAds(mode) });
  const xds = createServer(cache, { callbacks: recorder(seen) });
  let envoy: EnvoyInstance | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const rest = mode === 'rest' ? await xds.listenRest(0, '127.0.0.1') : undefined;
    const options = { mode, nodeId, controlPlane: { grpc, ...(rest !== undefined ? { rest } : {}) } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const a = upstreams.a.port;
    const b = upstreams.b.port;

    const v1 = proxySnapshot({ version: `${mode}-1`, listenerPort, source, clusters: { a: [a] }, routes: [{ prefix: '/', cluster: 'a' }] });
    await cache.setSnapshot(nodeId, v1);
    envoy = await startEnvoy({ name: mode, bootstrap: modeBootstrap(options) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'A', 10_000, 'traffic served by A');
    let expected = expectVersions(new Map(), v1, mode);
    await assertEnvoyHolds(proxy, cache, seen, nodeId, v1, expected, mode);

    // A new cluster with its endpoints, and the route moved to it.
    const v2 = proxySnapshot({ version: `${mode}-2`, listenerPort, source, clusters: { a: [a], b: [b] }, routes: [{ prefix: '/', cluster: 'b' }] });
    await cache.setSnapshot(nodeId, v2);
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'B', 10_000, 'traffic served by B');
    expected = expectVersions(expected, v2, mode);
    await assertEnvoyHolds(proxy, cache, seen, nodeId, v2, expected, mode);

    // Cluster b's endpoints now point at A (an EDS change), and cluster a goes (no longer routed to).
    const v3 = proxySnapshot({ version: `${mode}-3`, listenerPort, source, clusters: { b: [a] }, routes: [{ prefix: '/', cluster: 'b' }] });
    await cache.setSnapshot(nodeId, v3);
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'A', 10_000, 'traffic served by A again');
    await proxy.waitFor(async () => !('a' in (await dumpedVersions(proxy)).clusters), 5_000, 'cluster a removed');
    expected = expectVersions(expected, v3, mode);
    await assertEnvoyHolds(proxy, cache, seen, nodeId, v3, expected, mode);

    assert.deepEqual(seen.nacks, [], 'Envoy rejected nothing');
    // Envoy used the mode under test.
    if (mode === 'rest') {
      assert.deepEqual(seen.sotwStreams, []);
      assert.deepEqual(seen.deltaStreams, []);
      assert.deepEqual(new Set(seen.fetches), new Set(XDS_TYPES));
    } else {
      assert.deepEqual(seen.fetches, []);
      const streams = isDelta(mode) ? seen.deltaStreams : seen.sotwStreams;
      assert.deepEqual(isDelta(mode) ? seen.sotwStreams : seen.deltaStreams, [], 'no stream of the other protocol');
      const count = (type: string): number => streams.filter((t) => t === type).length;
      if (isAds(mode)) {
        assert.deepEqual(streams, [''], 'one ADS stream');
      } else {
        // Per-type: one stream each for LDS, RDS and CDS, and one EDS stream per EDS cluster (a and b): Envoy
        // shares a gRPC stream between subscriptions only over ADS.
        assert.deepEqual(
          { listeners: count(TypeUrl.Listener), routes: count(TypeUrl.Route), clusters: count(TypeUrl.Cluster), endpoints: count(TypeUrl.Endpoint) },
          { listeners: 1, routes: 1, clusters: 1, endpoints: 2 },
          `streams opened: ${streams.join(', ')}`,
        );
      }
      for (const type of XDS_TYPES) {
        assert.ok(
          seen.acks.some((ack) => ack.typeUrl === type && ack.delta === isDelta(mode)),
          `Envoy ACKed ${type}`,
        );
      }
    }
  } finally {
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of XDS_MODES) {
  void envoyTest(`Envoy in ${mode} mode gets listener, routes, clusters and endpoints from us and follows snapshot changes with traffic`, () => runMode(mode), {
    timeout: 45_000,
  });
}
