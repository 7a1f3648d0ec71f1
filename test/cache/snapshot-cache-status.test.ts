// Status, events and the release of per-node state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Snapshot, SnapshotCache, type AckEvent, type NackEvent, type PushedEvent, type SetEvent } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { delta, deltaWatch, node, sotw, watch } from './helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const snap = (v: string) => new Snapshot(v, { [C]: [cluster('a')], [E]: [endpoints('a')] });

test("setSnapshot emits 'set' with the key and the snapshot", async () => {
  const cache = new SnapshotCache();
  const events: SetEvent[] = [];
  cache.on('set', (e) => events.push(e));
  const s = snap('1');
  await cache.setSnapshot('k', s);
  assert.deepEqual(events, [{ key: 'k', snapshot: s }]);
});

test("'pushed' fires when setSnapshot's watches are answered, with how many and how long", async () => {
  const cache = new SnapshotCache();
  const events: PushedEvent[] = [];
  cache.on('pushed', (e) => events.push(e));
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  const s2 = snap('2');
  await cache.setSnapshot('node-1', s2);
  assert.equal(events.length, 2);
  assert.equal(events[0].watches, 0, 'no watch was open for the first');
  assert.equal(events[1].snapshot, s2);
  assert.equal(events[1].watches, 1);
  assert.ok(events[1].durationMs >= 0);
});

function ackOf(typeUrl: typeof C, version: string, nonce: string, isDelta = false): AckEvent {
  return { streamId: 1, node: node(), nodeId: 'node-1', typeUrl, version, nonce, delta: isDelta };
}

function nackOf(typeUrl: typeof C, rejectedVersion: string, nonce: string, message: string, isDelta = false): NackEvent {
  return { streamId: 1, node: node(), nodeId: 'node-1', typeUrl, rejectedVersion, currentVersion: '', nonce, errorDetail: { code: 3, message }, delta: isDelta };
}

test("the server's ACK verdict is recorded in the status and emitted as 'ack' with the key", async () => {
  const cache = new SnapshotCache();
  const acks: [AckEvent, string][] = [];
  cache.on('ack', (e, key) => acks.push([e, key]));
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true }));
  assert.equal(cache.getStatusInfo('node-1')!.types.get(C)!.lastSentVersion, '1');
  const ack = ackOf(C, '1', 'n1');
  watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1', ack }));
  assert.deepEqual(acks, [[ack, 'node-1']], 'the very event the server made');
  const status = cache.getStatusInfo('node-1')!.types.get(C)!;
  assert.equal(status.lastAckedVersion, '1');
  assert.ok(status.lastAckTime instanceof Date);
});

test('a request without a verdict is no ACK: the cache does not judge requests itself', async () => {
  const cache = new SnapshotCache();
  let acks = 0;
  cache.on('ack', () => acks++);
  await cache.setSnapshot('node-1', snap('1'));
  watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  deltaWatch(cache, delta(C, { wildcard: true, responseNonce: 'd1' }));
  assert.equal(acks, 0);
  assert.equal(cache.getStatusInfo('node-1')!.types.get(C)?.lastAckedVersion, undefined);
});

test("the server's NACK verdict is recorded with Envoy's message, and 'nack' fires", async () => {
  const cache = new SnapshotCache();
  const nacks: NackEvent[] = [];
  cache.on('nack', (e) => nacks.push(e));
  await cache.setSnapshot('node-1', snap('2'));
  const message = 'Proto constraint validation failed: connect_timeout';
  const nack = nackOf(C, '2', 'n2', message);
  watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n2', errorDetail: nack.errorDetail, rejectedVersion: '2', nack }));
  assert.deepEqual(nacks, [nack]);
  const status = cache.getStatusInfo('node-1')!.types.get(C)!;
  assert.equal(status.lastNack!.version, '2');
  assert.equal(status.lastNack!.errorDetail.message, message);
  assert.equal(status.lastNack!.message, message);
  assert.equal(status.lastAckedVersion, undefined, 'a NACK is not an ACK');
});

test('delta verdicts are recorded with the version the server says the nonce names', async () => {
  const cache = new SnapshotCache();
  const seen: string[] = [];
  cache.on('ack', (e) => seen.push(`ack ${e.version} ${String(e.delta)}`));
  cache.on('nack', (e) => seen.push(`nack ${e.rejectedVersion} ${e.errorDetail.message}`));
  await cache.setSnapshot('node-1', snap('3'));
  deltaWatch(cache, delta(C, { wildcard: true }));
  deltaWatch(cache, delta(C, { wildcard: true, responseNonce: 'd1', ack: ackOf(C, '3', 'd1', true) }));
  const nack = nackOf(C, '3', 'd2', 'no', true);
  deltaWatch(cache, delta(C, { wildcard: true, responseNonce: 'd2', errorDetail: nack.errorDetail, nack }));
  assert.deepEqual(seen, ['ack 3 true', 'nack 3 no']);
  assert.equal(cache.getStatusInfo('node-1')!.types.get(C)!.lastAckedVersion, '3');
});

test('status counts open watches and records when the node last asked', () => {
  const cache = new SnapshotCache();
  assert.equal(cache.getStatusInfo('node-1'), undefined);
  const before = Date.now();
  watch(cache, sotw(C, { wildcard: true }));
  const w = watch(cache, sotw(E, { resourceNames: ['a'] }));
  deltaWatch(cache, delta(C, { wildcard: true }));
  let info = cache.getStatusInfo('node-1')!;
  assert.equal(info.numWatches, 2);
  assert.equal(info.numDeltaWatches, 1);
  assert.ok(info.lastRequestTime!.getTime() >= before);
  assert.equal(info.node.id, 'node-1');
  w.cancel();
  info = cache.getStatusInfo('node-1')!;
  assert.equal(info.numWatches, 1);
  assert.deepEqual(cache.getStatusKeys(), ['node-1']);
});

test("a node's watches and status are released when its last stream closes", async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  cache.streamOpened(node());
  cache.streamOpened(node());
  watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n' }));
  cache.streamClosed(node());
  assert.equal(cache.getStatusInfo('node-1')!.numWatches, 1, 'another stream is still open');
  cache.streamClosed(node());
  assert.equal(cache.getStatusInfo('node-1'), undefined);
  assert.deepEqual(cache.getStatusKeys(), []);
  assert.ok(cache.getSnapshot('node-1'), 'the snapshot belongs to the application and stays');
});

test('thousands of open/close cycles leave no watches and no status behind', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('shared', snap('1'));
  const answers: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const n = node(i % 2 ? 'shared' : `churn-${i}`);
    cache.streamOpened(n);
    const a = cache.createWatch(sotw(C, { node: n, wildcard: true, versionInfo: '1', responseNonce: 'x' }), () => answers.push(i));
    cache.createDeltaWatch(delta(E, { node: n, subscribed: new Set(['a']), newlySubscribed: ['a'] }), () => undefined);
    if (i % 3 === 0) a();
    cache.streamClosed(n);
  }
  assert.deepEqual(cache.getStatusKeys(), []);
  await cache.setSnapshot('shared', snap('2'));
  assert.equal(answers.length, 0, 'released watches are never answered');
});

test('with releaseDelayMs the status survives a quick reconnect', async () => {
  const cache = new SnapshotCache({ releaseDelayMs: 20 });
  cache.streamOpened(node());
  watch(cache, sotw(C, { wildcard: true }));
  cache.streamClosed(node());
  assert.ok(cache.getStatusInfo('node-1'));
  cache.streamOpened(node());
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(cache.getStatusInfo('node-1'), 'reconnected in time');
  cache.streamClosed(node());
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(cache.getStatusInfo('node-1'), undefined);
});

test('clearSnapshot forgets the snapshot; open watches stay and the next snapshot answers them', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1'));
  cache.streamOpened(node());
  const w = watch(cache, sotw(C, { wildcard: true, versionInfo: '1', responseNonce: 'n' }));
  cache.clearSnapshot('node-1');
  assert.equal(cache.getSnapshot('node-1'), undefined);
  await cache.setSnapshot('node-1', snap('2'));
  assert.equal(w.last!.version, '2');
  cache.streamClosed(node());
  await cache.setSnapshot('node-2', snap('1'));
  cache.clearSnapshot('node-2');
  assert.deepEqual(cache.getStatusKeys(), []);
});
