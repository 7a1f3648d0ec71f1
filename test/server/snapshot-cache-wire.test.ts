// The server with the real SnapshotCache, over the wire: the flows Envoy and proxyless clients go through.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { EncodedResource, Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type NackEvent, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints, listener, route } from '../support/sample-resources.js';
import { XdsTestClient, type SotwResponse, type SotwStream } from '../support/xds-client.js';

const NODE = { id: 'envoy-1', cluster: 'test' };
let cache: SnapshotCache;
let xds: XdsServer;
let client: XdsTestClient;
const nacks: NackEvent[] = [];

function snapshot(version: string, upstreamPort = 8080, clusters = ['a', 'b']): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Cluster]: clusters.map((c) => cluster(c)),
    [TypeUrl.Endpoint]: clusters.map((c) => endpoints(c, 2, upstreamPort)),
    [TypeUrl.Listener]: [listener('l', 'r')],
    [TypeUrl.Route]: [route('r', clusters[0])],
  });
}

beforeEach(async () => {
  nacks.length = 0;
  cache = new SnapshotCache({ ads: true });
  xds = createServer(cache, { callbacks: { onNack: (e) => void nacks.push(e) } });
  client = new XdsTestClient(`127.0.0.1:${await xds.listen('127.0.0.1:0')}`);
});
afterEach(async () => {
  client.close();
  await xds.close({ deadlineMs: 200 });
  cache.close();
});

/** Subscribes like Envoy over ADS: CDS and LDS wildcard, then EDS and RDS by the names received; ACKs all. */
async function envoyLike(s: SotwStream): Promise<Map<string, SotwResponse>> {
  const got = new Map<string, SotwResponse>();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  s.send({ node: NODE, type_url: TypeUrl.Listener });
  while (got.size < 4) {
    const r = await s.next(3000);
    got.set(r.type_url, r);
    if (r.type_url === TypeUrl.Cluster) {
      s.ack(r);
      if (!got.has(TypeUrl.Endpoint)) s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: r.names });
    } else if (r.type_url === TypeUrl.Listener) {
      s.ack(r);
      if (!got.has(TypeUrl.Route)) s.send({ node: NODE, type_url: TypeUrl.Route, resource_names: ['r'] });
    } else {
      s.ack(r, r.names);
    }
  }
  return got;
}

test('an Envoy-like ADS client gets clusters, endpoints, listeners and routes, and updates in dependency order', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1'));
  const s = client.sotw();
  const first = await envoyLike(s);
  assert.deepEqual([...first.values()].map((r) => r.version_info), ['1', '1', '1', '1']);
  assert.deepEqual(first.get(TypeUrl.Endpoint)!.names.sort(), ['a', 'b']);

  await cache.setSnapshot(NODE.id, snapshot('2', 9090));
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await s.next(3000);
    assert.equal(r.version_info, '2');
    order.push(r.type_url);
    s.ack(r, r.type_url === TypeUrl.Endpoint ? ['a', 'b'] : r.type_url === TypeUrl.Route ? ['r'] : []);
  }
  assert.ok(order.indexOf(TypeUrl.Cluster) < order.indexOf(TypeUrl.Endpoint), `clusters before endpoints: ${order.join(' ')}`);
  assert.ok(order.indexOf(TypeUrl.Listener) < order.indexOf(TypeUrl.Route), `listeners before routes: ${order.join(' ')}`);
  await s.nothingWithin(200);
});

test('a NACKed version is not sent again on that stream; the next version is', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1'));
  const s = client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  s.ack(await s.next());
  await cache.setSnapshot(NODE.id, snapshot('2', 8080, ['a', 'b', 'c']));
  const bad = await s.next();
  assert.equal(bad.version_info, '2');
  s.nack(bad, 'cluster c: rejected for the test', '1');
  await s.nothingWithin(500);
  assert.equal(nacks.length, 1);
  assert.equal(nacks[0].errorDetail.message, 'cluster c: rejected for the test');
  assert.equal(cache.getStatusInfo(NODE.id)?.types.get(TypeUrl.Cluster)?.lastNack?.errorDetail.message, 'cluster c: rejected for the test');
  await cache.setSnapshot(NODE.id, snapshot('3'));
  const fixed = await s.next();
  assert.equal(fixed.version_info, '3');
});

test('a client reconnecting with an equal version string but other content gets the current content', async () => {
  // Another replica (or this process before a restart) served "7" with an upstream on port 1111.
  await cache.setSnapshot(NODE.id, snapshot('7', 2222));
  const s = client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Endpoint, version_info: '7', resource_names: ['a'] });
  const r = await s.next();
  assert.equal(r.version_info, '7');
  const port = (r.resources[0].value as any).endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value;
  assert.equal(port, 2222);
});

test('delta ADS: a reconnecting client is sent only what differs from initial_resource_versions, and removals', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1'));
  const d1 = client.delta();
  d1.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*'] });
  const r1 = await d1.next();
  assert.deepEqual(r1.names.sort(), ['a', 'b']);
  const versions = Object.fromEntries(r1.resources.map((r) => [r.name, r.version!]));
  d1.ack(r1);
  d1.end();

  // Cluster b changes and c appears while the client is away; a is unchanged.
  await cache.setSnapshot(
    NODE.id,
    new Snapshot('2', { [TypeUrl.Cluster]: [cluster('a'), cluster('b', { connect_timeout: '9s' }), cluster('c')] }),
  );
  const d2 = client.delta();
  d2.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*'], initial_resource_versions: versions });
  const r2 = await d2.next();
  assert.deepEqual(r2.names.sort(), ['b', 'c'], 'a is not resent');
  d2.ack(r2);

  await cache.setSnapshot(NODE.id, new Snapshot('3', { [TypeUrl.Cluster]: [cluster('a'), cluster('c')] }));
  const r3 = await d2.next();
  assert.deepEqual(r3.removed_resources, ['b']);
  assert.deepEqual(r3.names, []);
});

test('per-type services with the snapshot cache: CDS and EDS on their own streams', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1'));
  const cds = client.sotw({ typeUrl: TypeUrl.Cluster });
  const eds = client.sotw({ typeUrl: TypeUrl.Endpoint });
  cds.send({ node: NODE, type_url: TypeUrl.Cluster });
  eds.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['b'] });
  assert.deepEqual((await cds.next()).names.sort(), ['a', 'b']);
  assert.deepEqual((await eds.next()).names, ['b']);
});

test('each resource version is encoded once however many streams receive it', async () => {
  const before = EncodedResource.encodeCount;
  const snap = snapshot('1');
  const resources = 2 + 2 + 1 + 1;
  assert.equal(EncodedResource.encodeCount - before, resources);
  await cache.setSnapshot(NODE.id, snap);
  const streams = Array.from({ length: 40 }, () => client.sotw());
  await Promise.all(streams.map((s) => envoyLike(s)));
  assert.equal(EncodedResource.encodeCount - before, resources, 'no encode after the snapshot was built');
});

test('delta ADS: many clients reconnecting with the same versions are each sent only what differs', async () => {
  // Enough clusters that the versions and subscriptions are long runs, which the decoder shares between requests.
  const names = Array.from({ length: 150 }, (_, i) => `cluster-${String(i).padStart(5, '0')}`);
  await cache.setSnapshot(NODE.id, snapshot('1', 8080, names));
  const d1 = client.delta();
  d1.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: [] });
  d1.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: names });
  const got = new Map<string, { [name: string]: string }>();
  for (let i = 0; i < 2; i++) {
    const r = await d1.next();
    got.set(r.type_url, Object.fromEntries(r.resources.map((x) => [x.name, x.version!])));
    d1.ack(r);
  }
  d1.end();
  const cds = got.get(TypeUrl.Cluster)!;
  const eds = got.get(TypeUrl.Endpoint)!;
  assert.equal(Object.keys(cds).length, names.length);

  const reconnect = async (edsVersions: { [name: string]: string }): Promise<Map<string, string[]>> => {
    const d = client.delta();
    d.send({ node: NODE, type_url: TypeUrl.Cluster, initial_resource_versions: cds });
    d.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: names, initial_resource_versions: edsVersions });
    const sent = new Map<string, string[]>();
    // CDS is answered even when empty (Envoy waits for a first wildcard response); EDS only if something differs.
    const r = await d.next();
    sent.set(r.type_url, r.names);
    d.ack(r);
    if (r.type_url !== TypeUrl.Endpoint) {
      const e = await Promise.race([d.next(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200))]);
      if (e !== undefined) sent.set(e.type_url, e.names);
    }
    d.end();
    return sent;
  };
  for (let i = 0; i < 2; i++) {
    const sent = await reconnect(eds);
    assert.deepEqual(sent.get(TypeUrl.Cluster), [], 'every cluster is current');
    assert.equal(sent.has(TypeUrl.Endpoint), false, 'every assignment is current');
  }
  const sent = await reconnect({ ...eds, [names[7]]: 'stale' });
  assert.deepEqual(sent.get(TypeUrl.Endpoint), [names[7]], 'only the assignment held at another version');
  assert.deepEqual((await reconnect(eds)).get(TypeUrl.Endpoint), undefined, 'a different run did not change the shared one');
});

test("the cache records the server's verdicts: one ACK per response, even when a later request repeats its nonce", async () => {
  await cache.setSnapshot(NODE.id, snapshot('1'));
  const seen: string[] = [];
  cache.on('ack', (e, key) => seen.push(`ack ${key} ${e.typeUrl.split('.').pop()} ${e.version} ${e.nonce}`));
  const s = client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['a'] });
  const r = await s.next(3000);
  s.ack(r, ['a']);
  // A subscription change repeats the nonce it last answered: the same response, not a second ACK.
  s.ack(r, ['a', 'b']);
  const more = await s.next(3000);
  assert.deepEqual(more.names, ['b'], 'the newly subscribed assignment');
  assert.deepEqual(seen, [`ack ${NODE.id} ClusterLoadAssignment 1 ${r.nonce}`]);
  assert.equal(cache.getStatusInfo(NODE.id)!.types.get(TypeUrl.Endpoint)!.lastAckedVersion, '1');
});
