// VHDS on demand: Envoy subscribes to `<route configuration>/<host>` when a request names a host it lacks, and
// completes that request only when told the host does not exist by an alias-only Resource.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinearCache, Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl, lookupType } from '../../src/resource/index.js';
import { delta, deltaWatch, names } from './helpers.js';

const VH = TypeUrl.VirtualHost;
const known = { name: 'routes/known.test', domains: ['known.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] };

test('snapshot cache: an on-demand virtual host that does not exist is answered as unresolved, not removed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [VH]: [known] }));
  const request = delta(VH, { subscribed: new Set(['routes/known.test', 'routes/nowhere.test']), newlySubscribed: ['routes/known.test', 'routes/nowhere.test'] });
  const w = deltaWatch(cache, request);
  assert.deepEqual(names(w.last), ['routes/known.test']);
  assert.deepEqual(w.last!.removed, []);
  assert.deepEqual(w.last!.unresolved, ['routes/nowhere.test']);
  // On the wire: a Resource with the name as alias and no body.
  const decoded = lookupType(TypeUrl.DeltaDiscoveryResponse).decode(w.last!.body()) as unknown as {
    resources: { name: string; aliases: string[]; resource: unknown }[];
  };
  const alias = decoded.resources.find((r) => r.name === 'routes/nowhere.test')!;
  assert.deepEqual(alias.aliases, ['routes/nowhere.test']);
  assert.equal(alias.resource, null);
});

test('linear cache: the same rule for on-demand virtual hosts', () => {
  const cache = new LinearCache(VH, { initialResources: { 'routes/known.test': known } });
  const w = deltaWatch(cache, delta(VH, { subscribed: new Set(['routes/nowhere.test']), newlySubscribed: ['routes/nowhere.test'] }));
  assert.deepEqual(w.last!.unresolved, ['routes/nowhere.test']);
  assert.deepEqual(w.last!.removed, []);
});

test('a virtual host the client held that disappears is still reported removed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [VH]: [] }));
  const w = deltaWatch(cache, delta(VH, { subscribed: new Set(['routes/known.test']), known: new Map([['routes/known.test', 'h']]), responseNonce: 'n1' }));
  assert.deepEqual(w.last!.removed, ['routes/known.test']);
  assert.deepEqual(w.last!.unresolved, []);
});

test('other types report a missing newly subscribed name as removed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [TypeUrl.Cluster]: [] }));
  const w = deltaWatch(cache, delta(TypeUrl.Cluster, { subscribed: new Set(['gone']), newlySubscribed: ['gone'] }));
  assert.deepEqual(w.last!.removed, ['gone']);
  assert.equal(w.last!.unresolved?.length ?? 0, 0);
});
