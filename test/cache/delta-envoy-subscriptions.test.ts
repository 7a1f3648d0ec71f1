// Glob collection subscriptions, as Envoy makes them for LEDS, in both caches that answer delta watches: LEDS
// subscribes to an xdstp glob collection (`xdstp://authority/type/path/*`) and expects the resources of that
// collection (`xdstp://authority/type/path/<id>`), never the glob name reported as removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinearCache, Snapshot, SnapshotCache, withName } from '../../src/cache/index.js';
import { TypeUrl, globCollectionOf } from '../../src/resource/index.js';
import { delta, deltaAck, deltaWatch, names } from './helpers.js';

const LEDS = TypeUrl.LbEndpoint;
const COLLECTION = 'xdstp://test/envoy.config.endpoint.v3.LbEndpoint/foo';
const OTHER = 'xdstp://test/envoy.config.endpoint.v3.LbEndpoint/bar';

function endpointAt(port: number) {
  return { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } };
}

function lbEndpoint(name: string, port: number) {
  return withName(name, endpointAt(port));
}

test('globCollectionOf gives the glob collection an xdstp name belongs to, and nothing for other names', () => {
  assert.equal(globCollectionOf(`${COLLECTION}/endpoint1`), `${COLLECTION}/*`);
  assert.equal(globCollectionOf('xdstp://a/t/p/q/r?b=2&a=1'), 'xdstp://a/t/p/q/*?b=2&a=1');
  assert.equal(globCollectionOf('xdstp://a/t/x'), 'xdstp://a/t/*');
  assert.equal(globCollectionOf('plain-name'), undefined);
  assert.equal(globCollectionOf('xdstp://a/t'), undefined, 'no id: not in a collection');
  assert.equal(globCollectionOf(`${COLLECTION}/*`), undefined, 'a glob is not a member of a collection');
});

test('snapshot cache: a glob collection subscription gets the resources of the collection, not a removal of the glob', async () => {
  const cache = new SnapshotCache();
  const snapshot = (version: string, ids: string[]) =>
    new Snapshot(version, { [LEDS]: [...ids.map((id) => lbEndpoint(`${COLLECTION}/${id}`, 8000 + Number(id.slice(1)))), lbEndpoint(`${OTHER}/x`, 9000)] });
  await cache.setSnapshot('node-1', snapshot('1', ['e1', 'e2']));
  const glob = `${COLLECTION}/*`;
  const request = delta(LEDS, { subscribed: new Set([glob]), newlySubscribed: [glob] });
  const first = deltaWatch(cache, request);
  assert.deepEqual(names(first.last), [`${COLLECTION}/e1`, `${COLLECTION}/e2`]);
  assert.deepEqual(first.last!.removed, []);

  // Members added and removed later reach the client; resources of other collections never do.
  const w = deltaWatch(cache, deltaAck(request, first.last!));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', snapshot('2', ['e2', 'e3']));
  assert.deepEqual(names(w.last), [`${COLLECTION}/e3`]);
  assert.deepEqual(w.last!.removed, [`${COLLECTION}/e1`]);
});

test('snapshot cache: an empty glob collection is answered empty, without a removal of the glob', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [LEDS]: [lbEndpoint(`${OTHER}/x`, 9000)] }));
  const glob = `${COLLECTION}/*`;
  const w = deltaWatch(cache, delta(LEDS, { subscribed: new Set([glob]), newlySubscribed: [glob] }));
  assert.equal(w.responses.length, 1);
  assert.deepEqual(w.last!.resources, []);
  assert.deepEqual(w.last!.removed, []);
});

test('linear cache: a glob collection subscription gets the collection and wakes when a member changes', () => {
  const cache = new LinearCache(LEDS);
  cache.updateResource(`${COLLECTION}/e1`, endpointAt(8000));
  const glob = `${COLLECTION}/*`;
  const request = delta(LEDS, { subscribed: new Set([glob]), newlySubscribed: [glob] });
  const first = deltaWatch(cache, request);
  assert.deepEqual(names(first.last), [`${COLLECTION}/e1`]);
  assert.deepEqual(first.last!.removed, []);

  const w = deltaWatch(cache, deltaAck(request, first.last!));
  assert.equal(w.responses.length, 0);
  cache.updateResource(`${OTHER}/x`, endpointAt(9000));
  assert.equal(w.responses.length, 0, 'another collection does not wake the watch');
  cache.updateResource(`${COLLECTION}/e2`, endpointAt(8001));
  assert.deepEqual(names(w.last), [`${COLLECTION}/e2`]);
});
