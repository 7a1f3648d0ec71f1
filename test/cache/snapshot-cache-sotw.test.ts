// State-of-the-world rules of the snapshot cache, one behavior per test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource, RESOURCE_WRAPPER_TYPE_URL, Snapshot, SnapshotCache, withTtl, type Response } from '../../src/cache/index.js';
import { Code, TypeUrl, XdsError, decodeMessage, lookupType } from '../../src/resource/index.js';
import { cluster, endpoints, listener, route } from '../support/sample-resources.js';
import { ack, decodeSotw, names, node, sotw, watch } from './helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const L = TypeUrl.Listener;
const R = TypeUrl.Route;

function snap(version: string, extra: { clusters?: string[]; port?: number } = {}): Snapshot {
  const clusters = extra.clusters ?? ['a', 'b'];
  return new Snapshot(version, {
    [C]: clusters.map((c) => cluster(c)),
    [E]: clusters.map((c) => endpoints(c, 2, extra.port ?? 8080)),
    [L]: [listener('l', 'r')],
    [R]: [route('r', clusters[0])],
  });
}

test("a watch is answered at once when the client's version differs from the snapshot's", async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('2'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n0' }));
  assert.equal(w.responses.length, 1);
  assert.equal(w.last!.version, '2');
  assert.deepEqual(names(w.last), ['a', 'b']);
});

test("a watch at the snapshot's version waits, and is answered when a new version is set", async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n0' }));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', snap('2', { clusters: ['a', 'b', 'c'] }));
  assert.equal(w.responses.length, 1);
  assert.equal(w.last!.version, '2');
  assert.deepEqual(names(w.last), ['a', 'b', 'c']);
});

test('a watch opened before any snapshot is answered by the first one', async () => {
  const cache = new SnapshotCache();
  const w = watch(cache, sotw(C, { wildcard: true }));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', snap('1'));
  assert.equal(w.last!.version, '1');
});

test("the first request of a type on a stream is answered even if its version equals the snapshot's", async () => {
  // A client reconnecting after a control-plane restart (or to another replica) may hold version "1" with
  // content that this process never sent. go-control-plane leaves it stale; we answer the first request.
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: '' }));
  assert.equal(w.responses.length, 1);
  assert.equal(w.last!.version, '1');
  assert.deepEqual(names(w.last), ['a', 'b']);
});

test('a version string reused with different content still reaches a waiting client', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '1', responseNonce: 'n0' }));
  await cache.setSnapshot('node-1', snap('1', { port: 9090 }));
  assert.equal(w.responses.length, 1);
  assert.equal(w.last!.version, '1');
});

test('setting a snapshot with the same version and content wakes no one', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n0' }));
  await cache.setSnapshot('node-1', snap('1'));
  assert.equal(w.responses.length, 0);
  assert.equal(cache.getStatusInfo('node-1')!.numWatches, 1);
});

test('only the types whose version changed are answered', async () => {
  const cache = new SnapshotCache();
  const base = { [C]: [cluster('a')], [E]: [endpoints('a')] };
  await cache.setSnapshot('node-1', new Snapshot('1', base));
  const c = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n0' }));
  const e = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '1', responseNonce: 'n0' }));
  await cache.setSnapshot('node-1', new Snapshot('1', { [C]: [cluster('a')], [E]: [endpoints('a', 5)] }, { versions: { [E]: '2' } }));
  assert.equal(c.responses.length, 0);
  assert.equal(e.responses.length, 1);
  assert.equal(e.last!.version, '2');
  assert.equal(cache.getStatusInfo('node-1')!.numWatches, 1);
});

test('a wildcard response carries every resource of the type', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', { clusters: ['x', 'y', 'z'] }));
  const w = watch(cache, sotw(C, { wildcard: true, resourceNames: ['x'] }));
  assert.deepEqual(names(w.last), ['x', 'y', 'z']);
});

test('a response carries every subscribed resource, not only the changed ones', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'b'], versionInfo: '1', responseNonce: 'n0' }));
  await cache.setSnapshot('node-1', new Snapshot('2', { [C]: [cluster('a'), cluster('b')], [E]: [endpoints('a', 9), endpoints('b', 2)] }));
  assert.deepEqual(names(w.last), ['a', 'b']);
});

test('a client naming a resource that is not in the snapshot gets the ones that exist', async () => {
  // go-control-plane in ADS mode withholds the whole response; the client would wait forever.
  const cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'nope'] }));
  assert.deepEqual(names(w.last), ['a']);
});

test('a client naming fewer resources than the snapshot has is answered in ADS mode (proxyless gRPC)', async () => {
  const cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot('node-1', snap('1', { clusters: ['a', 'b', 'c'] }));
  const w = watch(cache, sotw(E, { resourceNames: ['b'] }));
  assert.deepEqual(names(w.last), ['b']);
  const r = watch(cache, sotw(R, { resourceNames: ['r'] }));
  assert.deepEqual(names(r.last), ['r']);
});

test('a NACK is never answered with the rejected version: the watch waits for a different one', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('2'));
  const nack = sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n5', errorDetail: { code: 3, message: 'bad cluster' }, rejectedVersion: '2' });
  const w = watch(cache, nack);
  assert.equal(w.responses.length, 0, 'version 2 was rejected: not sent again');
  await cache.setSnapshot('node-1', snap('2'));
  assert.equal(w.responses.length, 0, 'the same version and content again: still nothing');
  await cache.setSnapshot('node-1', snap('3'));
  assert.equal(w.last!.version, '3');
});

test('a NACK that arrives after a newer version was set is answered with the newer version', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('3'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n5', errorDetail: { code: 3, message: 'x' }, rejectedVersion: '2' }));
  assert.equal(w.last!.version, '3');
});

test('a NACK whose rejected version the server does not know is taken to reject the current version', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('2'));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n5', errorDetail: { code: 3, message: 'x' } }));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', snap('3'));
  assert.equal(w.last!.version, '3');
});

test('responses triggered by one setSnapshot go out in ADS order: clusters before endpoints, listeners before routes', async () => {
  const cache = new SnapshotCache({ ads: true });
  const order: Response[] = [];
  // Opened in the worst order on purpose.
  for (const [typeUrl, fields] of [
    [R, { resourceNames: ['r'] }],
    [E, { resourceNames: ['a', 'b'] }],
    [L, { wildcard: true }],
    [C, { wildcard: true }],
  ] as const) {
    watch(cache, sotw(typeUrl, fields), order);
  }
  await cache.setSnapshot('node-1', snap('1'));
  assert.deepEqual(order.map((r) => r.typeUrl), [C, E, L, R]);
});

test('watches answered with the same type, version and names share one Response, whose body is built once', async () => {
  const cache = new SnapshotCache();
  const one = snap('1');
  const ws = [
    watch(cache, sotw(E, { node: node('n1'), resourceNames: ['a', 'b'] })),
    watch(cache, sotw(E, { node: node('n2'), resourceNames: ['b', 'a'] })),
    watch(cache, sotw(E, { node: node('n3'), resourceNames: ['a'] })),
  ];
  await Promise.all(['n1', 'n2', 'n3'].map((key) => cache.setSnapshot(key, one)));
  assert.equal(ws[0].last, ws[1].last, 'same names in another order: same object');
  assert.notEqual(ws[0].last, ws[2].last);
  assert.equal(ws[0].last!.body(), ws[1].last!.body(), 'body assembled once and kept');
  const wild = [watch(cache, sotw(C, { node: node('n1'), wildcard: true })), watch(cache, sotw(C, { node: node('n2'), wildcard: true }))];
  assert.equal(wild[0].last, wild[1].last);
});

test('each resource is encoded once however many watches it answers', async () => {
  const cache = new SnapshotCache();
  const before = EncodedResource.encodeCount;
  const one = snap('1', { clusters: ['a', 'b', 'c'] });
  const resources = EncodedResource.encodeCount - before;
  assert.equal(resources, 8);
  const keys = Array.from({ length: 200 }, (_, i) => `node-${i}`);
  const ws = keys.flatMap((id) => [
    watch(cache, sotw(C, { node: node(id), wildcard: true })),
    watch(cache, sotw(E, { node: node(id), resourceNames: ['a', 'b', 'c'] })),
    watch(cache, sotw(L, { node: node(id), wildcard: true })),
  ]);
  await Promise.all(keys.map((key) => cache.setSnapshot(key, one)));
  for (const w of ws) w.last!.body();
  assert.equal(ws.filter((w) => w.responses.length === 1).length, 600);
  assert.equal(EncodedResource.encodeCount - before, resources);
});

test('the response body decodes to what the client expects', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('4'));
  const w = watch(cache, sotw(C, { wildcard: true }));
  const decoded = decodeSotw(w.last!);
  assert.equal(decoded.version_info, '4');
  assert.equal(decoded.type_url, C);
  assert.deepEqual(decoded.resources.map((a: any) => decodeMessage(C, a.value)['name']), ['a', 'b']);
});

test('a new subscription at the current version is answered with what the client lacks', async () => {
  // Envoy adds a cluster: it asks for one more ClusterLoadAssignment with the version it already has.
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const first = watch(cache, sotw(E, { resourceNames: ['a'] }));
  const more = watch(cache, { ...ack(sotw(E, { resourceNames: ['a'] }), first.last!), resourceNames: ['a', 'b'] });
  assert.deepEqual(names(more.last), ['b'], 'an EDS response need not repeat the assignment the client holds');
  assert.equal(more.last!.version, '1');
  assert.deepEqual([...more.last!.returnedNames()].sort(), ['a', 'b'], 'the client holds both once it has the answer');
  const again = watch(cache, ack(sotw(E, { resourceNames: ['a', 'b'] }), more.last!));
  assert.equal(again.responses.length, 0, 'nothing new: the ACK waits');
});

test('a new subscription to a full-state type at the current version is answered with every subscribed resource', async () => {
  // A proxyless gRPC client subscribes to clusters by name; a CDS response must hold all it wants.
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const first = watch(cache, sotw(C, { resourceNames: ['a'] }));
  const more = watch(cache, { ...ack(sotw(C, { resourceNames: ['a'] }), first.last!), resourceNames: ['a', 'b'] });
  assert.deepEqual(names(more.last), ['a', 'b']);
});

test('a version change is answered with every subscribed resource, whatever the client holds', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const first = watch(cache, sotw(E, { resourceNames: ['a'] }));
  const more = watch(cache, { ...ack(sotw(E, { resourceNames: ['a'] }), first.last!), resourceNames: ['a', 'b'] });
  await cache.setSnapshot('node-1', snap('2'));
  const next = watch(cache, ack(sotw(E, { resourceNames: ['a', 'b'] }), more.last!));
  assert.deepEqual(names(next.last), ['a', 'b']);
});

test('without knownNames a repeated request at the current version waits', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'b'], versionInfo: '1', responseNonce: 'n1' }));
  assert.equal(w.responses.length, 0);
});

test('a cancelled watch is never answered', async () => {
  const cache = new SnapshotCache();
  const w = watch(cache, sotw(C, { wildcard: true }));
  w.cancel();
  w.cancel();
  await cache.setSnapshot('node-1', snap('1'));
  assert.equal(w.responses.length, 0);
  assert.equal(cache.getStatusInfo('node-1')!.numWatches, 0);
});

test('a watch for a type the snapshot lacks waits until a snapshot has it', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', Snapshot.withVersions({ [C]: { version: 'c1', resources: [cluster('a')] } }));
  const w = watch(cache, sotw(L, { wildcard: true }));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', new Snapshot('2', { [L]: [listener('l', 'r')] }));
  assert.deepEqual(names(w.last), ['l']);
});

test('a snapshot answers the watches of its key only; a custom hash groups nodes under one key', async () => {
  const cache = new SnapshotCache({ hash: (n) => n.cluster ?? 'none' });
  const a = watch(cache, sotw(C, { node: node('e1', { cluster: 'front' }), wildcard: true }));
  const b = watch(cache, sotw(C, { node: node('e2', { cluster: 'front' }), wildcard: true }));
  const c = watch(cache, sotw(C, { node: node('e3', { cluster: 'back' }), wildcard: true }));
  await cache.setSnapshot('front', snap('1'));
  assert.equal(a.responses.length, 1);
  assert.equal(b.responses.length, 1);
  assert.equal(c.responses.length, 0);
});

test('fetch answers when the version differs, returns undefined when up to date, and says when there is no snapshot', async () => {
  const cache = new SnapshotCache();
  assert.throws(() => cache.fetch(sotw(C, { wildcard: true })), (e: unknown) => e instanceof XdsError && e.code === Code.NOT_FOUND);
  await cache.setSnapshot('node-1', snap('1'));
  assert.deepEqual(names(cache.fetch(sotw(E, { resourceNames: ['b'] }))), ['b']);
  assert.equal(cache.fetch(sotw(C, { wildcard: true, versionInfo: '1' })), undefined);
});

test('a resource with a TTL goes out wrapped in a discovery Resource carrying its name and TTL', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [C]: [withTtl(cluster('a'), 1500), cluster('b')] }));
  const w = watch(cache, sotw(C, { wildcard: true }));
  const decoded = decodeSotw(w.last!);
  assert.equal(decoded.resources[0].type_url, RESOURCE_WRAPPER_TYPE_URL);
  const wrapper = lookupType('envoy.service.discovery.v3.Resource').decode(decoded.resources[0].value) as any;
  assert.equal(wrapper.name, 'a');
  assert.equal(Number(wrapper.ttl.seconds), 1);
  assert.equal(wrapper.ttl.nanos, 500_000_000);
  assert.equal(decodeMessage(C, wrapper.resource.value)['name'], 'a');
  assert.equal(decoded.resources[1].type_url, C);
});

test('heartbeats send TTL resources without their body to up-to-date watches only', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [E]: [withTtl(endpoints('a'), 1500), endpoints('b')], [C]: [cluster('a')] }));
  const e = watch(cache, sotw(E, { resourceNames: ['a', 'b'], versionInfo: '1', responseNonce: 'n1' }));
  const c = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  const stale = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n1' }));
  cache.sendHeartbeats();
  assert.equal(e.responses.length, 1);
  assert.equal(c.responses.length, 0, 'no TTL resource of this type');
  assert.equal(stale.last!.heartbeat, false, 'an out-of-date watch gets the update, not a heartbeat');
  const hb = e.last!;
  assert.equal(hb.heartbeat, true);
  assert.equal(hb.version, '1');
  assert.deepEqual(names(hb), ['a']);
  const wrapper = lookupType('envoy.service.discovery.v3.Resource').decode(decodeSotw(hb).resources[0].value) as any;
  assert.equal(wrapper.name, 'a');
  assert.equal(wrapper.resource, null);
  assert.equal(Number(wrapper.ttl.seconds), 1);
});

test('a heartbeat of a full-state type (clusters) is the whole response, TTL resources with their body and TTL', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [C]: [withTtl(cluster('a'), 1500), cluster('b')] }));
  const c = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  cache.sendHeartbeats();
  const hb = c.last!;
  // Envoy drops bodiless resources before applying a response, and a cluster a CDS response leaves out is removed.
  assert.equal(hb.heartbeat, false);
  assert.deepEqual(names(hb), ['a', 'b']);
  const wrapper = lookupType('envoy.service.discovery.v3.Resource').decode(decodeSotw(hb).resources[0].value) as any;
  assert.equal(Number(wrapper.ttl.seconds), 1);
  assert.notEqual(wrapper.resource, null);
});

test('the heartbeat timer sends heartbeats until the cache is closed', async () => {
  const cache = new SnapshotCache({ heartbeatIntervalMs: 5 });
  await cache.setSnapshot('node-1', new Snapshot('1', { [E]: [withTtl(endpoints('a'), 100)] }));
  // The heartbeat timer is unref'd (it must not keep an application alive), so a ref'd timer keeps this test's
  // event loop running until the heartbeat comes, and fails the test if it never does.
  let guard: NodeJS.Timeout | undefined;
  const got = await Promise.race([
    new Promise<Response>((resolve) => cache.createWatch(sotw(E, { resourceNames: ['a'], versionInfo: '1', responseNonce: 'n' }), resolve)),
    new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('no heartbeat within 2 s')), 2000))),
  ]);
  clearTimeout(guard);
  cache.close();
  assert.equal(got.heartbeat, true);
});

test('a watch that NACKed the current version gets no heartbeat', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [C]: [withTtl(cluster('a'), 1500)] }));
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '', responseNonce: 'n1', errorDetail: { code: 3, message: 'no' }, rejectedVersion: '1' }));
  cache.sendHeartbeats();
  assert.equal(w.responses.length, 0);
});

test('setSnapshot answering thousands of watches lets other work run and answers them all', async () => {
  const cache = new SnapshotCache({ sliceMs: 1 });
  const count = 20_000;
  const ws = Array.from({ length: count }, (_, i) => watch(cache, sotw(E, { resourceNames: [i % 2 ? 'a' : 'b'] })));
  let ranBetween = false;
  setImmediate(() => (ranBetween = ws.some((w) => w.responses.length === 0)));
  await cache.setSnapshot('node-1', snap('1'));
  assert.ok(ranBetween, 'other work ran while watches were still being answered');
  assert.equal(ws.filter((w) => w.responses.length === 1).length, count);
});

test('a newer snapshot set during a long answer takes over: no watch gets the older version', async () => {
  const cache = new SnapshotCache({ sliceMs: 0 });
  const ws = Array.from({ length: 5000 }, () => watch(cache, sotw(C, { wildcard: true })));
  const first = cache.setSnapshot('node-1', snap('1'));
  const answeredEarly = ws.filter((w) => w.responses.length > 0).length;
  const second = cache.setSnapshot('node-1', snap('2'));
  await Promise.all([first, second]);
  assert.equal(ws.filter((w) => w.last?.version === '1').length, answeredEarly);
  assert.ok(ws.every((w) => w.responses.length === 1));
});

test('a watch whose callback throws does not stop the answers to the others', async () => {
  const cache = new SnapshotCache();
  cache.createWatch(sotw(C, { wildcard: true }), () => {
    throw new Error('stream gone');
  });
  const w = watch(cache, sotw(C, { wildcard: true }));
  await cache.setSnapshot('node-1', snap('1'));
  assert.equal(w.responses.length, 1);
});

test('a subscription to nothing (not wildcard, no names) is never answered', async () => {
  // grpc-js-xds unsubscribes from everything before it closes a stream.
  const cache = new SnapshotCache();
  const w = watch(cache, sotw(L, { resourceNames: [] }));
  await cache.setSnapshot('node-1', snap('1'));
  await cache.setSnapshot('node-1', snap('2'));
  assert.equal(w.responses.length, 0);
  assert.equal(watch(cache, sotw(L, { versionInfo: '1', responseNonce: 'n' })).responses.length, 0);
});
