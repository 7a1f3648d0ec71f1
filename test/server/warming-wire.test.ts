// Resource warming over the wire: Envoy does not use a changed cluster until it has received the cluster's
// endpoints again, and over ADS it asks for them only by repeating its last EDS request (SotW) or not at all
// (delta). The server sends them again to the stream that was sent the changed cluster, and nothing more.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { LinearCache, MuxCache, Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints, listener, route } from '../support/sample-resources.js';
import { XdsTestClient, type DeltaResponse, type DeltaStream, type SotwResponse, type SotwStream } from '../support/xds-client.js';

const NODE = { id: 'envoy-1', cluster: 'test' };
let cache: SnapshotCache;
let xds: XdsServer;
let client: XdsTestClient;

interface Config {
  /** connect_timeout of each cluster, by name. */
  clusters: Record<string, string>;
  /** Port of the endpoints of every cluster. */
  port?: number;
  /** The listener's port. */
  listenerPort?: number;
}

/**
 * A snapshot whose types have their own versions, as a control plane that versions by content has: the
 * version of a type changes only when its resources do.
 */
function snapshot(config: Config, versions: { clusters: string; endpoints: string; listeners?: string }): Snapshot {
  const names = Object.keys(config.clusters);
  return new Snapshot(
    versions.clusters,
    {
      [TypeUrl.Cluster]: names.map((name) => cluster(name, { connect_timeout: config.clusters[name] })),
      [TypeUrl.Endpoint]: names.map((name) => endpoints(name, 2, config.port ?? 8080)),
      [TypeUrl.Listener]: [listener('l', 'r', config.listenerPort ?? 10000)],
      [TypeUrl.Route]: [route('r', names[0])],
    },
    { versions: { [TypeUrl.Endpoint]: versions.endpoints, [TypeUrl.Listener]: versions.listeners ?? 'l1', [TypeUrl.Route]: 'r1' } },
  );
}

beforeEach(async () => {
  cache = new SnapshotCache({ ads: true });
  xds = createServer(cache);
  client = new XdsTestClient(`127.0.0.1:${await xds.listen('127.0.0.1:0')}`);
});
afterEach(async () => {
  client.close();
  await xds.close({ deadlineMs: 200 });
  cache.close();
});

/** SotW ADS like Envoy: CDS and LDS by wildcard, EDS for the clusters received; everything ACKed. */
async function sotwEnvoy(s: SotwStream): Promise<{ clusters: SotwResponse; endpoints: SotwResponse; listeners: SotwResponse }> {
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const clusters = await s.next();
  s.send({ type_url: TypeUrl.Endpoint, resource_names: clusters.names });
  s.ack(clusters);
  const endpoints = await s.next();
  s.ack(endpoints, endpoints.names);
  s.send({ type_url: TypeUrl.Listener });
  const listeners = await s.next();
  s.ack(listeners);
  await s.nothingWithin(100);
  return { clusters, endpoints, listeners };
}

/** Delta ADS like Envoy: CDS by wildcard, EDS for the clusters received; everything ACKed. */
async function deltaEnvoy(s: DeltaStream): Promise<void> {
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const clusters = await s.next();
  s.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: clusters.names });
  s.ack(clusters);
  s.ack(await s.next());
  s.send({ type_url: TypeUrl.Listener });
  s.ack(await s.next());
  await s.nothingWithin(100);
}

const V1: Config = { clusters: { a: '1s', b: '1s' } };
const A_CHANGED: Config = { clusters: { a: '2s', b: '1s' } };

test('SotW ADS: after a changed EDS cluster, a repeat of the last EDS request is answered with the endpoints', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.sotw();
  const { endpoints: held } = await sotwEnvoy(s);

  await cache.setSnapshot(NODE.id, snapshot(A_CHANGED, { clusters: 'c2', endpoints: 'e1' }));
  const clusters = await s.next();
  assert.equal(clusters.version_info, 'c2');
  // What Envoy sends: its last EDS request again, word for word.
  s.ack(held, held.names);
  const answer = await s.next();
  assert.equal(answer.type_url, TypeUrl.Endpoint);
  assert.equal(answer.version_info, 'e1');
  assert.deepEqual(answer.names, ['a'], 'only the changed cluster\'s assignment: an EDS response need not repeat the others');
});

/** SotW ADS like Envoy; cluster `a` changes; Envoy ACKs it and repeats its EDS request, which is answered. */
async function endpointsSentAgain(): Promise<{ s: SotwStream; held: SotwResponse; again: SotwResponse }> {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.sotw();
  const { endpoints: held } = await sotwEnvoy(s);
  await cache.setSnapshot(NODE.id, snapshot(A_CHANGED, { clusters: 'c2', endpoints: 'e1' }));
  s.ack(await s.next());
  s.ack(held, held.names);
  const again = await s.next();
  return { s, held, again };
}

test('SotW ADS: after the endpoints sent again, an endpoint change sends every subscribed assignment', async () => {
  const { s, held, again } = await endpointsSentAgain();
  s.ack(again, held.names);
  await s.nothingWithin(100);
  await cache.setSnapshot(NODE.id, snapshot({ ...A_CHANGED, port: 9090 }, { clusters: 'c2', endpoints: 'e2' }));
  const endpoints = await s.next();
  assert.deepEqual([endpoints.type_url, endpoints.version_info, endpoints.names.sort()], [TypeUrl.Endpoint, 'e2', ['a', 'b']]);
});

test('SotW ADS: the ACK of the endpoints sent again is not answered', async () => {
  const { s, again } = await endpointsSentAgain();
  s.ack(again, again.names);
  await s.nothingWithin(200);
});

test('SotW ADS: a repeat of the last EDS request is not answered when no cluster changed', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.sotw();
  const { endpoints: held } = await sotwEnvoy(s);
  // Only the listener changes: Envoy gets LDS, and the clusters it holds need nothing.
  await cache.setSnapshot(NODE.id, snapshot({ ...V1, listenerPort: 10001 }, { clusters: 'c1', endpoints: 'e1', listeners: 'l2' }));
  const listeners = await s.next();
  assert.equal(listeners.type_url, TypeUrl.Listener);
  s.ack(listeners);
  s.ack(held, held.names);
  await s.nothingWithin(200);
});

test('SotW ADS: a cluster and its endpoints changed together send the endpoints once', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.sotw();
  await sotwEnvoy(s);
  await cache.setSnapshot(NODE.id, snapshot({ ...A_CHANGED, port: 9090 }, { clusters: 'c2', endpoints: 'e2' }));
  const clusters = await s.next();
  const endpoints = await s.next();
  assert.deepEqual([clusters.type_url, endpoints.type_url], [TypeUrl.Cluster, TypeUrl.Endpoint]);
  s.ack(clusters);
  s.ack(endpoints, endpoints.names);
  await s.nothingWithin(200);
});

test('SotW per-type: a changed cluster sends nothing unasked on the endpoints stream', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const cds = client.sotw({ typeUrl: TypeUrl.Cluster });
  const eds = client.sotw({ typeUrl: TypeUrl.Endpoint });
  cds.send({ node: NODE });
  const clusters = await cds.next();
  cds.ack(clusters);
  eds.send({ node: NODE, resource_names: clusters.names });
  const held = await eds.next();
  eds.ack(held, held.names);
  await cache.setSnapshot(NODE.id, snapshot(A_CHANGED, { clusters: 'c2', endpoints: 'e1' }));
  cds.ack(await cds.next());
  // Envoy opens a new EDS stream for the new cluster; the old one repeating its request gets nothing.
  eds.ack(held, held.names);
  await eds.nothingWithin(200);
});

async function deltaUpdate(s: DeltaStream, config: Config, versions: { clusters: string; endpoints: string }): Promise<DeltaResponse> {
  await cache.setSnapshot(NODE.id, snapshot(config, versions));
  const clusters = await s.next();
  assert.equal(clusters.type_url, TypeUrl.Cluster);
  return clusters;
}

test('delta ADS: a changed EDS cluster is followed, unasked, by its endpoints', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.delta();
  await deltaEnvoy(s);
  const clusters = await deltaUpdate(s, A_CHANGED, { clusters: 'c2', endpoints: 'e1' });
  assert.deepEqual(clusters.names, ['a']);
  const endpoints = await s.next();
  assert.equal(endpoints.type_url, TypeUrl.Endpoint);
  assert.deepEqual(endpoints.names, ['a'], 'only the changed cluster\'s endpoints');
  assert.deepEqual(endpoints.removed_resources, []);
});

test('delta ADS: the ACKs of the cluster and of its endpoints sent again are not answered', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.delta();
  await deltaEnvoy(s);
  const clusters = await deltaUpdate(s, A_CHANGED, { clusters: 'c2', endpoints: 'e1' });
  const endpoints = await s.next();
  s.ack(clusters);
  s.ack(endpoints);
  await s.nothingWithin(200);
});

test('delta ADS: endpoints sent while their EDS response awaits its ACK are sent again after it', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.delta();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const first = await s.next();
  s.ack(first);
  s.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: first.names });
  const held = await s.next();
  // The endpoints are not ACKed yet when the cluster changes: no EDS watch is open.
  const clusters = await deltaUpdate(s, A_CHANGED, { clusters: 'c2', endpoints: 'e1' });
  s.ack(clusters);
  await s.nothingWithin(100);
  s.ack(held);
  const endpoints = await s.next();
  assert.equal(endpoints.type_url, TypeUrl.Endpoint);
  assert.deepEqual(endpoints.names, ['a']);
});

test('delta ADS: a cluster and its endpoints changed together send the endpoints once', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const s = client.delta();
  await deltaEnvoy(s);
  const clusters = await deltaUpdate(s, { ...A_CHANGED, port: 9090 }, { clusters: 'c2', endpoints: 'e2' });
  const endpoints = await s.next();
  assert.deepEqual(endpoints.names.sort(), ['a', 'b'], 'both assignments changed (new port)');
  s.ack(clusters);
  s.ack(endpoints);
  await s.nothingWithin(200);
});

test('delta ADS: a new cluster whose assignment the client already holds gets it again', async () => {
  const sharing = (names: string[]): Snapshot =>
    new Snapshot('c', {
      [TypeUrl.Cluster]: names.map((name) => cluster(name, { eds_cluster_config: { service_name: 'shared', eds_config: { ads: {}, resource_api_version: 'V3' } } })),
      [TypeUrl.Endpoint]: [endpoints('shared')],
    }, { versions: { [TypeUrl.Endpoint]: 'e1' } });
  await cache.setSnapshot(NODE.id, sharing(['a']));
  const s = client.delta();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const first = await s.next();
  s.ack(first);
  s.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: ['shared'] });
  s.ack(await s.next());
  await s.nothingWithin(100);
  await cache.setSnapshot(NODE.id, sharing(['a', 'b']));
  const clusters = await s.next();
  assert.deepEqual(clusters.names, ['b']);
  const again = await s.next();
  assert.deepEqual([again.type_url, again.names], [TypeUrl.Endpoint, ['shared']]);
});

test('delta per-type: a changed cluster sends nothing unasked on the endpoints stream', async () => {
  await cache.setSnapshot(NODE.id, snapshot(V1, { clusters: 'c1', endpoints: 'e1' }));
  const cds = client.delta({ typeUrl: TypeUrl.Cluster });
  const eds = client.delta({ typeUrl: TypeUrl.Endpoint });
  cds.send({ node: NODE });
  const clusters = await cds.next();
  cds.ack(clusters);
  eds.send({ node: NODE, resource_names_subscribe: clusters.names });
  eds.ack(await eds.next());
  await cache.setSnapshot(NODE.id, snapshot(A_CHANGED, { clusters: 'c2', endpoints: 'e1' }));
  cds.ack(await cds.next());
  await eds.nothingWithin(200);
});

/** Clusters `a` (with the given connect timeout) and `b`; listeners (none) at a version of their own. */
function clustersOnly(version: string, timeoutOfA: string): Snapshot {
  return new Snapshot(
    version,
    { [TypeUrl.Cluster]: [cluster('a', { connect_timeout: timeoutOfA }), cluster('b', { connect_timeout: '1s' })] },
    { versions: { [TypeUrl.Listener]: 'l1' } },
  );
}

/** Clusters from a SnapshotCache, endpoints from a LinearCache, behind a MuxCache. */
async function muxServer(): Promise<{ snapshots: SnapshotCache; client: XdsTestClient; close(): Promise<void> }> {
  const snapshots = new SnapshotCache({ ads: true });
  const linear = new LinearCache(TypeUrl.Endpoint, { initialResources: { a: endpoints('a', 2), b: endpoints('b', 2) } });
  const mux = new MuxCache({ caches: { [TypeUrl.Cluster]: snapshots, [TypeUrl.Listener]: snapshots, [TypeUrl.Endpoint]: linear } });
  const server = createServer(mux);
  const muxClient = new XdsTestClient(`127.0.0.1:${await server.listen('127.0.0.1:0')}`);
  await snapshots.setSnapshot(NODE.id, clustersOnly('c1', '1s'));
  return {
    snapshots,
    client: muxClient,
    async close() {
      muxClient.close();
      await server.close({ deadlineMs: 200 });
    },
  };
}

test('MuxCache with a LinearCache of endpoints, SotW ADS: a repeat of the last EDS request after a changed cluster is answered', async () => {
  const mux = await muxServer();
  try {
    const s = mux.client.sotw();
    const { endpoints: held } = await sotwEnvoy(s);
    await mux.snapshots.setSnapshot(NODE.id, clustersOnly('c2', '2s'));
    s.ack(await s.next());
    s.ack(held, held.names);
    const answer = await s.next();
    assert.deepEqual([answer.type_url, answer.version_info, answer.names], [TypeUrl.Endpoint, held.version_info, ['a']]);
    s.ack(answer, answer.names);
    await s.nothingWithin(200);
  } finally {
    await mux.close();
  }
});

test('MuxCache with a LinearCache of endpoints, delta ADS: a changed cluster is followed, unasked, by its endpoints', async () => {
  const mux = await muxServer();
  try {
    const s = mux.client.delta();
    await deltaEnvoy(s);
    await mux.snapshots.setSnapshot(NODE.id, clustersOnly('c2', '2s'));
    const clusters = await s.next();
    assert.deepEqual(clusters.names, ['a']);
    const again = await s.next();
    assert.deepEqual([again.type_url, again.names], [TypeUrl.Endpoint, ['a']]);
  } finally {
    await mux.close();
  }
});
