// TTLs over the wire: heartbeats refresh the TTL of what the client holds and change nothing else, and a TTL
// added to or dropped from unchanged content reaches the client (Envoy keeps a resource's last TTL until a
// response without one arrives, and removes the resource when it runs out).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { Snapshot, SnapshotCache, withTtl } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { eventually } from './harness.js';
import { XdsTestClient, type DeltaStream, type SotwResponse, type SotwStream } from '../support/xds-client.js';

const NODE = { id: 'envoy-1', cluster: 'test' };
const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
let cache: SnapshotCache;
let xds: XdsServer;
let client: XdsTestClient;

beforeEach(async () => {
  cache = new SnapshotCache();
  xds = createServer(cache);
  client = new XdsTestClient(`127.0.0.1:${await xds.listen('127.0.0.1:0')}`);
});
afterEach(async () => {
  client.close();
  await xds.close({ deadlineMs: 200 });
  cache.close();
});

/** Cluster and endpoints `a` with a TTL (or none), `b` never with one. */
function snapshot(version: string, ttlMs: number | undefined): Snapshot {
  const ttl = <T>(resource: T) => (ttlMs === undefined ? resource : withTtl(resource, ttlMs));
  return new Snapshot(version, {
    [C]: [ttl(cluster('a')), cluster('b')],
    [E]: [ttl(endpoints('a')), endpoints('b')],
  });
}

/** A SotW stream subscribed to clusters (wildcard) or to endpoints `a` and `b`, its first response ACKed. */
async function sotwSubscribed(typeUrl: typeof C | typeof E = E): Promise<{ s: SotwStream; first: SotwResponse }> {
  const s = client.sotw();
  s.send({ node: NODE, type_url: typeUrl, resource_names: typeUrl === E ? ['a', 'b'] : [] });
  const first = await s.next();
  s.ack(first, typeUrl === E ? ['a', 'b'] : []);
  await parked();
  return { s, first };
}

async function deltaSubscribed(): Promise<DeltaStream> {
  const s = client.delta();
  s.send({ node: NODE, type_url: C });
  s.ack(await s.next());
  await parked(true);
  return s;
}

/**
 * Waits until the server has acted on the client's last request and parked its watch in the cache: a
 * heartbeat goes only to parked watches, and an ACK that was answered leaves none parked.
 */
async function parked(delta = false): Promise<void> {
  const count = (): number | undefined => {
    const info = cache.getStatusInfo(NODE.id);
    return delta ? info?.numDeltaWatches : info?.numWatches;
  };
  await eventually(() => count() === 1, 3000, 'the watch parked');
}

const ttlOf = (response: { resources: readonly { name: string; ttlMs?: number }[] }): Record<string, number | undefined> =>
  Object.fromEntries(response.resources.map((r) => [r.name, r.ttlMs]));

test('SotW: a heartbeat of endpoints carries the TTL resources only, by name and TTL without their body', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const { s } = await sotwSubscribed(E);
  cache.sendHeartbeats();
  const heartbeat = await s.next();
  assert.equal(heartbeat.version_info, '1');
  assert.deepEqual(heartbeat.resources.map((r) => [r.name, r.ttlMs, r.heartbeat]), [['a', 3000, true]]);
});

test('SotW: the ACK of a heartbeat is not answered with the whole type again', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const { s } = await sotwSubscribed(E);
  for (let i = 0; i < 3; i++) {
    cache.sendHeartbeats();
    s.ack(await s.next(), ['a', 'b']);
    await parked();
    await s.nothingWithin(100);
  }
});

test('SotW: after heartbeats, an update still carries every subscribed resource', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const { s } = await sotwSubscribed(E);
  cache.sendHeartbeats();
  s.ack(await s.next(), ['a', 'b']);
  await parked();
  await cache.setSnapshot(NODE.id, new Snapshot('2', { [E]: [withTtl(endpoints('a'), 3000), endpoints('b', 5)] }));
  const update = await s.next();
  assert.equal(update.version_info, '2');
  assert.deepEqual(update.names, ['a', 'b']);
  assert.equal(update.resources.some((r) => r.heartbeat), false);
});

test('SotW: a heartbeat of clusters (full state) carries every cluster in full, the TTL ones with their TTL', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const { s } = await sotwSubscribed(C);
  cache.sendHeartbeats();
  const heartbeat = await s.next();
  assert.equal(heartbeat.version_info, '1');
  // Envoy drops bodiless resources before applying a response: leaving out a cluster would remove it.
  assert.deepEqual(heartbeat.resources.map((r) => [r.name, r.ttlMs, r.heartbeat]), [['a', 3000, undefined], ['b', undefined, undefined]]);
  s.ack(heartbeat);
  await parked();
  await s.nothingWithin(100);
});

test('SotW: a TTL dropped from unchanged content at the same version is sent again without the TTL', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const { s } = await sotwSubscribed(E);
  await cache.setSnapshot(NODE.id, snapshot('1', undefined));
  const update = await s.next();
  assert.deepEqual(ttlOf(update), { a: undefined, b: undefined });
  s.ack(update, ['a', 'b']);
  await parked();
  cache.sendHeartbeats();
  await s.nothingWithin(100);
});

test('SotW: a TTL added to unchanged content at the same version is sent with the TTL', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', undefined));
  const { s } = await sotwSubscribed(C);
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  assert.deepEqual(ttlOf(await s.next()), { a: 3000, b: undefined });
});

test('delta: the ACK of a heartbeat is not answered', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const s = await deltaSubscribed();
  cache.sendHeartbeats();
  const heartbeat = await s.next();
  assert.deepEqual(heartbeat.resources.map((r) => [r.name, r.ttlMs, r.heartbeat]), [['a', 3000, true]]);
  s.ack(heartbeat);
  await parked(true);
  await s.nothingWithin(150);
});

test('delta: a TTL dropped from unchanged content is sent again without the TTL, at a new resource version', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const s = client.delta();
  s.send({ node: NODE, type_url: C });
  const first = await s.next();
  s.ack(first);
  await parked(true);
  await cache.setSnapshot(NODE.id, snapshot('2', undefined));
  const update = await s.next();
  assert.deepEqual(update.names, ['a'], 'only the resource whose TTL changed');
  assert.equal(update.resources[0].ttlMs, undefined);
  assert.equal(update.resources[0].heartbeat, undefined);
  assert.notEqual(update.resources[0].version, first.resources.find((r) => r.name === 'a')!.version);
  s.ack(update);
  await parked(true);
  cache.sendHeartbeats();
  await s.nothingWithin(100);
});

test('delta: a TTL added to unchanged content is sent with the TTL, at a new resource version', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', undefined));
  const s = client.delta();
  s.send({ node: NODE, type_url: C });
  const first = await s.next();
  s.ack(first);
  await cache.setSnapshot(NODE.id, snapshot('2', 3000));
  const update = await s.next();
  assert.deepEqual(update.resources.map((r) => [r.name, r.ttlMs]), [['a', 3000]]);
  assert.notEqual(update.resources[0].version, first.resources.find((r) => r.name === 'a')!.version);
});

test('delta: a changed TTL on unchanged content is sent with the new TTL', async () => {
  await cache.setSnapshot(NODE.id, snapshot('1', 3000));
  const s = await deltaSubscribed();
  await cache.setSnapshot(NODE.id, snapshot('2', 5000));
  assert.deepEqual((await s.next()).resources.map((r) => [r.name, r.ttlMs]), [['a', 5000]]);
});
