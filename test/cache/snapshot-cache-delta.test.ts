// Delta (incremental) rules of the snapshot cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Snapshot, SnapshotCache, withTtl } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { deltaDiff } from '../../src/cache/delta-diff.js';
import { decodeDelta, delta, deltaAck, deltaWatch, names } from './helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;

function snap(version: string, clusters: string[], port = 8080): Snapshot {
  return new Snapshot(version, { [C]: clusters.map((c) => cluster(c)), [E]: clusters.map((c) => endpoints(c, 2, port)) });
}

test('per-resource versions are the content hashes', async () => {
  const cache = new SnapshotCache();
  const s = snap('1', ['a', 'b']);
  await cache.setSnapshot('node-1', s);
  const w = deltaWatch(cache, delta(C, { wildcard: true }));
  const decoded = decodeDelta(w.last!);
  assert.equal(decoded.system_version_info, '1');
  const versions = Object.fromEntries(decoded.resources.map((r: any) => [r.name, r.version]));
  assert.deepEqual(versions, { a: s.getResources(C).get('a')!.hash, b: s.getResources(C).get('b')!.hash });
});

test('resources the client already has (initial_resource_versions) are not resent', async () => {
  const cache = new SnapshotCache();
  const s = snap('1', ['a', 'b', 'c']);
  await cache.setSnapshot('node-1', s);
  const known = new Map([['a', s.getResources(C).get('a')!.hash], ['b', 'stale-hash']]);
  const w = deltaWatch(cache, delta(C, { wildcard: true, known }));
  assert.deepEqual(names(w.last), ['b', 'c']);
});

test('a reconnecting wildcard client that has everything still gets a first, empty response', async () => {
  // Envoy finishes initializing a wildcard subscription only on a first response.
  const cache = new SnapshotCache();
  const s = snap('1', ['a']);
  await cache.setSnapshot('node-1', s);
  const w = deltaWatch(cache, delta(C, { wildcard: true, known: new Map([['a', s.getResources(C).get('a')!.hash]]) }));
  assert.equal(w.responses.length, 1);
  assert.deepEqual(w.last!.resources, []);
  assert.deepEqual(w.last!.removed, []);
});

test('a delta watch with nothing new waits, and a change sends only what changed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a', 'b']));
  const first = deltaWatch(cache, delta(C, { wildcard: true }));
  const w = deltaWatch(cache, deltaAck(delta(C, { wildcard: true }), first.last!));
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', new Snapshot('2', { [C]: [cluster('a'), cluster('b', { connect_timeout: '1s' })] }));
  assert.deepEqual(names(w.last), ['b']);
  assert.deepEqual(w.last!.removed, []);
});

test('a resource that disappears is sent as removed', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a', 'b']));
  const first = deltaWatch(cache, delta(C, { wildcard: true }));
  const w = deltaWatch(cache, deltaAck(delta(C, { wildcard: true }), first.last!));
  await cache.setSnapshot('node-1', snap('2', ['a']));
  assert.deepEqual(names(w.last), []);
  assert.deepEqual(w.last!.removed, ['b']);
  assert.deepEqual(decodeDelta(w.last!).removed_resources, ['b']);
});

test('explicit subscriptions get only their names; a change elsewhere wakes no one', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a', 'b']));
  const first = deltaWatch(cache, delta(E, { subscribed: new Set(['a']), newlySubscribed: ['a'] }));
  assert.deepEqual(names(first.last), ['a']);
  const w = deltaWatch(cache, deltaAck(delta(E, { subscribed: new Set(['a']) }), first.last!));
  await cache.setSnapshot('node-1', new Snapshot('2', { [E]: [endpoints('a', 2), endpoints('b', 7)] }));
  assert.equal(w.responses.length, 0);
});

test('wildcard and explicit names together: everything, with explicit names that are not otherwise sent', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a', 'b']));
  const w = deltaWatch(cache, delta(C, { wildcard: true, subscribed: new Set(['a', 'ghost']), newlySubscribed: ['a', 'ghost'] }));
  assert.deepEqual(names(w.last), ['a', 'b']);
  assert.deepEqual(w.last!.removed, ['ghost']);
});

test('a name newly subscribed mid-stream is answered even when it has not changed', async () => {
  const cache = new SnapshotCache();
  const s = snap('1', ['a', 'b']);
  await cache.setSnapshot('node-1', s);
  const known = new Map([['a', s.getResources(E).get('a')!.hash], ['b', s.getResources(E).get('b')!.hash]]);
  const w = deltaWatch(cache, delta(E, { subscribed: new Set(['a', 'b']), known, newlySubscribed: ['b'], responseNonce: 'n3' }));
  assert.deepEqual(names(w.last), ['b']);
});

test('a newly subscribed name that does not exist is reported removed at once', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a']));
  const w = deltaWatch(cache, delta(E, { subscribed: new Set(['zzz']), newlySubscribed: ['zzz'], responseNonce: 'n2' }));
  assert.deepEqual(w.last!.removed, ['zzz']);
});

test('after an unsubscribe, changes to that name are not sent', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a', 'b']));
  const first = deltaWatch(cache, delta(E, { subscribed: new Set(['a', 'b']), newlySubscribed: ['a', 'b'] }));
  const after = deltaAck(delta(E, { subscribed: new Set(['a']) }), first.last!);
  (after.known as Map<string, string>).delete('b');
  const w = deltaWatch(cache, after);
  await cache.setSnapshot('node-1', new Snapshot('2', { [E]: [endpoints('a', 2), endpoints('b', 9)] }));
  assert.equal(w.responses.length, 0);
});

test('a delta NACK is not answered with the content it rejected', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', snap('1', ['a']));
  // The server did not record the rejected resource as known: the cache must still not resend it.
  const nack = delta(C, { wildcard: true, responseNonce: 'n1', errorDetail: { code: 3, message: 'bad' } });
  const w = deltaWatch(cache, nack);
  assert.equal(w.responses.length, 0);
  await cache.setSnapshot('node-1', snap('1', ['a']));
  assert.equal(w.responses.length, 0, 'same content again: nothing');
  await cache.setSnapshot('node-1', new Snapshot('2', { [C]: [cluster('a', { connect_timeout: '2s' })] }));
  assert.deepEqual(names(w.last), ['a']);
});

test('delta heartbeats refresh the TTL resources the client holds, without their body', async () => {
  const cache = new SnapshotCache();
  const s = new Snapshot('1', { [C]: [withTtl(cluster('a'), 3000), cluster('b')] });
  await cache.setSnapshot('node-1', s);
  const first = deltaWatch(cache, delta(C, { wildcard: true }));
  const w = deltaWatch(cache, deltaAck(delta(C, { wildcard: true }), first.last!));
  cache.sendHeartbeats();
  assert.equal(w.last!.heartbeat, true);
  const decoded = decodeDelta(w.last!);
  assert.equal(decoded.resources.length, 1);
  assert.equal(decoded.resources[0].name, 'a');
  assert.equal(decoded.resources[0].version, s.getResources(C).get('a')!.hash);
  assert.equal(decoded.resources[0].resource, null);
  assert.equal(Number(decoded.resources[0].ttl.seconds), 3);
});

test('delta watches of one key are answered in ADS order', async () => {
  const cache = new SnapshotCache({ ads: true });
  const order: string[] = [];
  cache.createDeltaWatch(delta(E, { subscribed: new Set(['a']), newlySubscribed: ['a'] }), (r) => order.push(r.typeUrl));
  cache.createDeltaWatch(delta(C, { wildcard: true }), (r) => order.push(r.typeUrl));
  await cache.setSnapshot('node-1', snap('1', ['a']));
  assert.deepEqual(order, [C, E]);
});

test('a delta watch that waits through several snapshots is answered as a full comparison would answer it', async () => {
  // The cache compares a waiting watch only on the names that changed since it last found nothing to send;
  // this checks that shortcut against the full comparison on random snapshots and subscriptions.
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const all = ['a', 'b', 'c', 'd', 'e', 'f'];
  const randomSnapshot = (version: string): Snapshot =>
    new Snapshot(version, { [E]: all.filter(() => random(4) > 0).map((c) => endpoints(c, 1, 8000 + random(3))) });
  let waited = 0;
  for (let trial = 0; trial < 300; trial++) {
    const cache = new SnapshotCache();
    const first = randomSnapshot('0');
    await cache.setSnapshot('node-1', first);
    const wildcard = random(3) === 0;
    const subscribed = new Set(all.filter(() => random(2) === 0));
    const known = new Map<string, string>();
    for (const name of all) {
      const r = first.getResources(E).get(name);
      if (r !== undefined && random(3) > 0) known.set(name, r.hash);
      else if (random(5) === 0) known.set(name, 'stale');
    }
    const request = delta(E, { wildcard, subscribed, known, responseNonce: 'n1' });
    const w = deltaWatch(cache, request);
    if (w.responses.length > 0) continue;
    for (let step = 1; step <= 6 && w.responses.length === 0; step++) {
      const next = randomSnapshot(String(step));
      const expected = deltaDiff(next.typeResources(E)!.items, request);
      await cache.setSnapshot('node-1', next);
      if (expected.resources.length === 0 && expected.removed.length === 0) {
        assert.equal(w.responses.length, 0, `trial ${trial} step ${step}: nothing to send, yet answered`);
        waited++;
      } else {
        assert.deepEqual(names(w.last), expected.resources.map((r) => r.name).sort(), `trial ${trial} step ${step}`);
        assert.deepEqual([...w.last!.removed].sort(), [...expected.removed].sort(), `trial ${trial} step ${step}`);
      }
    }
  }
  assert.ok(waited > 50, `the watches waited through ${waited} snapshots: too few to test the shortcut`);
});

test('an ACK is answered, now or at the next snapshot, as a full comparison would answer it', async () => {
  // The ACK hands back the response's returned state, so the cache compares only the names changed since the
  // resources the response was made from; a watch that finds nothing to send parks with its baseline and later
  // compares only the names changed since. This checks both against the full comparison, with the snapshot
  // changed before or after the ACK.
  let seed = 11;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const all = ['a', 'b', 'c', 'd', 'e'];
  const randomSnapshot = (version: string): Snapshot =>
    new Snapshot(version, { [E]: all.filter(() => random(4) > 0).map((c) => endpoints(c, 1, 8000 + random(3))) });
  let checked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const cache = new SnapshotCache();
    await cache.setSnapshot('node-1', randomSnapshot('0'));
    const known = new Map<string, string>();
    for (const name of all) if (random(3) === 0) known.set(name, 'stale');
    const request = delta(E, { wildcard: random(2) === 0, subscribed: new Set(all.filter(() => random(2) === 0)), known, responseNonce: 'n0' });
    const first = deltaWatch(cache, request);
    if (first.responses.length === 0) continue;
    const acked = deltaAck(request, first.last!);
    let next: Snapshot | undefined;
    if (random(2) === 0) {
      next = randomSnapshot('1');
      await cache.setSnapshot('node-1', next);
    }
    const current = next ?? cache.getSnapshot('node-1')!;
    const expected = deltaDiff(current.typeResources(E)!.items, acked);
    const w = deltaWatch(cache, acked);
    if (expected.resources.length === 0 && expected.removed.length === 0) {
      assert.equal(w.responses.length, 0, `trial ${trial}: nothing to send, yet answered`);
      const later = randomSnapshot('2');
      const expectedLater = deltaDiff(later.typeResources(E)!.items, acked);
      await cache.setSnapshot('node-1', later);
      assert.deepEqual(names(w.last), expectedLater.resources.map((r) => r.name).sort(), `trial ${trial}, later`);
      assert.deepEqual([...(w.last?.removed ?? [])].sort(), [...expectedLater.removed].sort(), `trial ${trial}, later`);
    } else {
      assert.deepEqual(names(w.last), expected.resources.map((r) => r.name).sort(), `trial ${trial}`);
      assert.deepEqual([...w.last!.removed].sort(), [...expected.removed].sort(), `trial ${trial}`);
    }
    checked++;
  }
  assert.ok(checked > 100, `only ${checked} trials had a response to acknowledge`);
});

test('a reconnecting wildcard client that holds every resource is sent the changed ones, in snapshot order, and told of the gone ones', () => {
  // The client presents its versions in its own order; the comparison walks them when they cover every resource.
  let seed = 11;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const all = Array.from({ length: 12 }, (_, i) => `c${i}`);
  for (let trial = 0; trial < 200; trial++) {
    const items = new Snapshot('1', { [C]: all.filter(() => random(5) > 0).map((c) => cluster(c)) }).typeResources(C)!.items;
    const entries: [string, string][] = [];
    for (const [name, r] of items) if (random(6) > 0 || trial % 2 === 0) entries.push([name, random(4) === 0 ? (random(2) === 0 ? '' : 'stale') : r.hash]);
    for (const name of all) if (!items.has(name) && random(3) === 0) entries.push([name, 'old']);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = random(i + 1);
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    const known = new Map(entries);
    const diff = deltaDiff(items, delta(C, { wildcard: true, known }));
    const expected = [...items.values()].filter((r) => known.get(r.name) !== r.hash).map((r) => r.name);
    assert.deepEqual(diff.resources.map((r) => r.name), expected, `trial ${trial}: resources`);
    assert.deepEqual([...diff.removed].sort(), entries.map(([name]) => name).filter((name) => !items.has(name)).sort(), `trial ${trial}: removed`);
  }
});
