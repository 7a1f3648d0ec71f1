// The status in Envoy's words: per node and type, sent / ACKed / NACKed versions and the sync state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Snapshot, SnapshotCache, nodeSyncStatus, syncState, syncStatus } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { node, answer, sotw, watch } from './helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const snap = (v: string) => new Snapshot(v, { [C]: [cluster('a')], [E]: [endpoints('a')] });
const clusters = (cache: SnapshotCache, key = 'node-1') => nodeSyncStatus(cache, key)?.types.find((t) => t.typeUrl === C);

test('a type never sent is NOT_SENT', () => {
  assert.equal(syncState(undefined), 'NOT_SENT');
  assert.equal(syncState({}), 'NOT_SENT');
});

test('a type sent and not yet answered is STALE', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  const t = clusters(cache)!;
  assert.equal(t.state, 'STALE');
  assert.equal(t.sentVersion, '1');
  assert.equal(t.ackedVersion, undefined);
});

test('a type whose version sent was ACKed is SYNCED', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, answer(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  const t = clusters(cache)!;
  assert.equal(t.state, 'SYNCED');
  assert.equal(t.ackedVersion, '1');
  assert.equal(t.snapshotVersion, '1');
});

test("a NACK of the version sent is ERROR, with Envoy's message and the version still ACKed", async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, answer(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  await cache.setSnapshot('node-1', snap('2'));
  const errorDetail = { code: 13, message: 'Error adding/updating cluster(s) a: bad' };
  watch(cache, answer(C, { wildcard: true, versionInfo: '1', responseNonce: 'n2', errorDetail, rejectedVersion: '2' }));
  const t = clusters(cache)!;
  assert.equal(t.state, 'ERROR');
  assert.equal(t.ackedVersion, '1');
  assert.deepEqual({ ...t.lastNack, time: undefined }, { version: '2', code: 13, message: errorDetail.message, time: undefined });
  assert.equal(nodeSyncStatus(cache, 'node-1')!.state, 'ERROR', "the node's state is its worst type's");
});

test('a new version sent after a NACK is STALE until answered, then SYNCED; the NACK stays readable', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('2'));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, answer(C, { wildcard: true, responseNonce: 'n1', errorDetail: { code: 13, message: 'no' }, rejectedVersion: '2' }));
  await cache.setSnapshot('node-1', snap('3'));
  assert.equal(clusters(cache)!.state, 'STALE');
  watch(cache, answer(C, { wildcard: true, versionInfo: '3', responseNonce: 'n2' }));
  const t = clusters(cache)!;
  assert.equal(t.state, 'SYNCED');
  assert.equal(t.lastNack?.message, 'no');
});

test("types the node never asked for show as NOT_SENT when its snapshot has resources of them, and do not make the node's state", async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, answer(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  const status = nodeSyncStatus(cache, 'node-1')!;
  assert.deepEqual(status.types.map((t) => [t.typeUrl, t.state]), [[C, 'SYNCED'], [E, 'NOT_SENT']]);
  assert.equal(status.state, 'SYNCED');
  assert.equal(status.snapshotVersion, '1');
});

test('syncStatus lists every tracked key in order; a key without streams or watches is not listed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('b', snap('1'));
  await cache.setSnapshot('a', snap('1'));
  await cache.setSnapshot('untracked', snap('1'));
  watch(cache, sotw(C, { node: node('b'), wildcard: true }));
  watch(cache, sotw(C, { node: node('a'), wildcard: true }));
  assert.deepEqual(syncStatus(cache).map((n) => [n.key, n.nodeId, n.state]), [['a', 'a', 'STALE'], ['b', 'b', 'STALE']]);
});
