import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinearCache, MuxCache, Snapshot, SnapshotCache, type ConfigWatcher } from '../../src/cache/index.js';
import { Code, TypeUrl, XdsError } from '../../src/resource/index.js';
import type { Node } from '../../src/types/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { delta, deltaWatch, names, node, sotw, watch } from './helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;

async function setup(): Promise<{ mux: MuxCache; snapshots: SnapshotCache; linear: LinearCache<typeof E> }> {
  const snapshots = new SnapshotCache();
  await snapshots.setSnapshot('node-1', new Snapshot('s1', { [C]: [cluster('a')] }));
  const linear = new LinearCache(E, { initialResources: { a: endpoints('a') }, versionPrefix: 'lin-' });
  const mux = new MuxCache({ caches: { [C]: snapshots, [E]: linear } });
  return { mux, snapshots, linear };
}

test('requests are routed by type URL to the cache that serves the type', async () => {
  const { mux } = await setup();
  assert.equal(watch(mux, sotw(C, { wildcard: true })).last!.version, 's1');
  assert.equal(watch(mux, sotw(E, { resourceNames: ['a'] })).last!.version, 'lin-0');
  assert.deepEqual(names(deltaWatch(mux, delta(E, { subscribed: new Set(['a']), newlySubscribed: ['a'] })).last), ['a']);
  assert.deepEqual(names(mux.fetch(sotw(E, { resourceNames: ['a'] }))), ['a']);
});

test('a custom classifier picks the cache', async () => {
  const { snapshots, linear } = await setup();
  const mux = new MuxCache({
    caches: new Map<string, ConfigWatcher>([['fleet', linear], ['per-node', snapshots]]),
    classify: (request) => (request.typeUrl === E ? 'fleet' : 'per-node'),
    classifyDelta: (request) => (request.typeUrl === E ? 'fleet' : 'per-node'),
  });
  assert.equal(watch(mux, sotw(E, { resourceNames: ['a'] })).last!.version, 'lin-0');
  assert.equal(watch(mux, sotw(C, { wildcard: true })).last!.version, 's1');
});

test('a request no cache takes fails with INVALID_ARGUMENT naming what is served', async () => {
  const { mux } = await setup();
  assert.throws(
    () => mux.createWatch(sotw(TypeUrl.Listener, { wildcard: true }), () => undefined),
    (e: unknown) => e instanceof XdsError && e.code === Code.INVALID_ARGUMENT && e.message.includes(C),
  );
});

test('stream open and close reach each cache once, so the snapshot cache can release its state', async () => {
  const { snapshots, linear } = await setup();
  const seen: string[] = [];
  const spy: ConfigWatcher = {
    createWatch: () => () => undefined,
    createDeltaWatch: () => () => undefined,
    fetch: () => undefined,
    streamOpened: (n: Node) => seen.push(`open ${n.id ?? ''}`),
    streamClosed: (n: Node) => seen.push(`close ${n.id ?? ''}`),
  };
  const mux = new MuxCache({ caches: { [C]: snapshots, [E]: linear, [TypeUrl.Route]: spy, [TypeUrl.Listener]: spy } });
  mux.streamOpened(node());
  watch(mux, sotw(C, { wildcard: true, versionInfo: 's1', responseNonce: 'n' }));
  assert.equal(snapshots.getStatusInfo('node-1')!.numWatches, 1);
  mux.streamClosed(node());
  assert.deepEqual(seen, ['open node-1', 'close node-1']);
  assert.equal(snapshots.getStatusInfo('node-1'), undefined);
});
