// The linear cache, with go-control-plane's linear_test scenarios re-expressed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource, LinearCache } from '../../src/cache/index.js';
import { Code, ResourceError, TypeUrl, XdsError } from '../../src/resource/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { ack, decodeDelta, delta, deltaAck, deltaWatch, names, sotw, watch } from './helpers.js';

const E = TypeUrl.Endpoint;
const C = TypeUrl.Cluster;
const cla = (name: string, port = 8080) => endpoints(name, 1, port);

test('initial resources are served at version prefix + 0', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') }, versionPrefix: 'p-' });
  assert.equal(cache.version, 'p-0');
  const w = watch(cache, sotw(E, { resourceNames: ['a'] }));
  assert.equal(w.last!.version, 'p-0');
  assert.deepEqual(names(w.last), ['a']);
  assert.equal(cache.numResources, 2);
});

test('the first request of a stream is answered even at the current version', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  const w = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0' }));
  assert.equal(w.responses.length, 1);
});

test('a watch at the current version waits; an update of a subscribed name answers it with all its names', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'b'], versionInfo: '0', responseNonce: 'n' }));
  assert.equal(w.responses.length, 0);
  assert.equal(cache.numWatches('a'), 1);
  cache.updateResource('a', cla('a', 9090));
  assert.equal(w.last!.version, '1');
  assert.deepEqual(names(w.last), ['a', 'b']);
  assert.equal(cache.numWatches(), 0);
});

test('an update wakes only the watches of the changed name, and the wildcard watches', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const onA = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n' }));
  const onB = watch(cache, sotw(E, { resourceNames: ['b'], versionInfo: '0', responseNonce: 'n' }));
  const all = watch(cache, sotw(E, { wildcard: true, versionInfo: '0', responseNonce: 'n' }));
  cache.updateResource('b', cla('b', 1));
  assert.equal(onA.responses.length, 0);
  assert.deepEqual(names(onB.last), ['b']);
  assert.deepEqual(names(all.last), ['a', 'b']);
  assert.equal(cache.numWatches('a'), 1);
});

test('a client at an older version is answered only if a subscribed resource changed since', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  cache.updateResource('b', cla('b', 1));
  const stale = watch(cache, sotw(E, { resourceNames: ['b'], versionInfo: '0', responseNonce: 'n' }));
  assert.equal(stale.responses.length, 1);
  const fresh = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n' }));
  assert.equal(fresh.responses.length, 0, 'only b changed since version 0');
});

test('a version from another prefix (another process) is answered with everything subscribed', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') }, versionPrefix: 'inst2-' });
  const w = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: 'inst1-5', responseNonce: 'n' }));
  assert.deepEqual(names(w.last), ['a']);
  const future = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: 'inst2-99', responseNonce: 'n' }));
  assert.equal(future.responses.length, 1, 'a counter this cache never reached');
});

test('deleting a subscribed resource answers its watches without it', () => {
  const cache = new LinearCache(C, { initialResources: { a: cluster('a'), b: cluster('b') } });
  const w = watch(cache, sotw(C, { resourceNames: ['a', 'b'], versionInfo: '0', responseNonce: 'n' }));
  cache.deleteResource('a');
  assert.deepEqual(names(w.last), ['b']);
  cache.deleteResource('missing');
  assert.equal(cache.version, '1', 'deleting an absent resource changes nothing');
});

test('updateResources changes many resources in one version and answers each watch once', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b'), c: cla('c') } });
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'b', 'c'], versionInfo: '0', responseNonce: 'n' }));
  cache.updateResources({ a: cla('a', 1), d: cla('d') }, ['b']);
  assert.equal(w.responses.length, 1);
  assert.equal(cache.version, '1');
  assert.deepEqual(names(w.last), ['a', 'c']);
  assert.deepEqual([...cache.getResources().keys()].sort(), ['a', 'c', 'd']);
});

test('an invalid resource in a batch changes nothing', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  assert.throws(() => cache.updateResources({ a: cla('a', 1), b: { cluster_name: 'b', endpoints: 7 } as never }), ResourceError);
  assert.equal(cache.version, '0');
  assert.equal(cache.getResources().get('a')!.endpoints![0].lb_endpoints!.length, 1);
});

test('setResources replaces the collection; unchanged resources wake no one', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const onA = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n' }));
  const onB = watch(cache, sotw(E, { resourceNames: ['b'], versionInfo: '0', responseNonce: 'n' }));
  cache.setResources({ a: cla('a'), c: cla('c') });
  assert.equal(onA.responses.length, 0, 'a did not change');
  assert.deepEqual(names(onB.last), [], 'b is gone');
  assert.deepEqual([...cache.getResources().keys()].sort(), ['a', 'c']);
});

test('an update with the same content is not a change: no new version, no wake-up', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  const w = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n' }));
  cache.updateResource('a', cla('a'));
  assert.equal(cache.version, '0');
  assert.equal(w.responses.length, 0);
});

test('watches with the same subscription share one response per version', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const ws = [1, 2, 3].map(() => watch(cache, sotw(E, { wildcard: true, versionInfo: '0', responseNonce: 'n' })));
  const named = [['a', 'b'], ['b', 'a']].map((n) => watch(cache, sotw(E, { resourceNames: n, versionInfo: '0', responseNonce: 'n' })));
  cache.updateResource('a', cla('a', 2));
  assert.equal(ws[0].last, ws[2].last);
  assert.equal(named[0].last, named[1].last);
});

test('a NACK is not answered with the rejected version; the next update answers it', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  cache.updateResource('a', cla('a', 2));
  const w = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n', errorDetail: { code: 3, message: 'bad' }, rejectedVersion: '1' }));
  assert.equal(w.responses.length, 0);
  cache.updateResource('a', cla('a', 3));
  assert.equal(w.last!.version, '2');
});

test('a new name subscribed at the current version is answered when the server passes knownNames', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const first = watch(cache, sotw(E, { resourceNames: ['a'] }));
  const more = watch(cache, { ...ack(sotw(E, { resourceNames: ['a'] }), first.last!), resourceNames: ['a', 'b'] });
  assert.deepEqual(names(more.last), ['b'], 'only what the client lacks');
  assert.deepEqual([...more.last!.returnedNames()].sort(), ['a', 'b']);
  const again = watch(cache, ack(sotw(E, { resourceNames: ['a', 'b'] }), more.last!));
  assert.equal(again.responses.length, 0, 'nothing new: the ACK waits');
});

test('cancelling a watch removes it from every name it was indexed under', () => {
  const cache = new LinearCache(E);
  const w = watch(cache, sotw(E, { resourceNames: ['a', 'b', 'c'], versionInfo: '0', responseNonce: 'n' }));
  const all = watch(cache, sotw(E, { wildcard: true, versionInfo: '0', responseNonce: 'n' }));
  assert.equal(cache.numWatches(), 2);
  assert.equal(cache.numWatches('b'), 2);
  w.cancel();
  all.cancel();
  w.cancel();
  assert.equal(cache.numWatches(), 0);
  assert.equal(cache.numWatches('b'), 0);
  cache.updateResource('b', cla('b'));
  assert.equal(w.responses.length + all.responses.length, 0);
});

test('a request for another type is refused with INVALID_ARGUMENT', () => {
  const cache = new LinearCache(E);
  assert.throws(() => cache.createWatch(sotw(C), () => undefined), (e: unknown) => e instanceof XdsError && e.code === Code.INVALID_ARGUMENT);
  assert.throws(() => cache.createDeltaWatch(delta(C), () => undefined), /serves only/);
});

test('a resource stored under a name other than its own is refused', () => {
  const cache = new LinearCache(E);
  assert.throws(() => cache.updateResource('x', cla('a')), /"a" was stored under the different name "x"/);
  const lb = new LinearCache(TypeUrl.LbEndpoint);
  lb.updateResource('ep-1', { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } });
  assert.deepEqual([...lb.getResources().keys()], ['ep-1']);
});

test('fetch answers when the version differs and returns undefined when up to date', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  assert.deepEqual(names(cache.fetch(sotw(E, { resourceNames: ['a'] }))), ['a']);
  assert.equal(cache.fetch(sotw(E, { resourceNames: ['a'], versionInfo: '0' })), undefined);
});

test('an update with 10,000 resources and 1,000 watches touches only the watches of the changed name', () => {
  const initial = new Map(Array.from({ length: 10_000 }, (_, i) => [`c${i}`, EncodedResource.encode(E, cla(`c${i}`))] as const));
  const cache = new LinearCache(E, { initialResources: initial });
  const ws = Array.from({ length: 1000 }, (_, i) => watch(cache, sotw(E, { resourceNames: [`c${i}`, `c${i + 1}`], versionInfo: '0', responseNonce: 'n' })));
  cache.updateResource('c500', cla('c500', 1));
  assert.deepEqual(ws.flatMap((w, i) => (w.responses.length ? [i] : [])), [499, 500]);
  assert.equal(cache.numWatches(), 998);
});

// Delta

test('delta: a first wildcard request gets every resource, versioned by content hash', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const w = deltaWatch(cache, delta(E, { wildcard: true }));
  assert.deepEqual(names(w.last), ['a', 'b']);
  assert.equal(decodeDelta(w.last!).resources[0].version, w.last!.resources[0].hash);
});

test('delta: resources the client already holds are not resent, but it gets a first response', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const all = deltaWatch(cache, delta(E, { wildcard: true })).last!;
  const known = new Map(all.resources.map((r) => [r.name, r.hash]));
  const w = deltaWatch(cache, delta(E, { wildcard: true, known }));
  assert.equal(w.responses.length, 1);
  assert.deepEqual(w.last!.resources, []);
  const named = deltaWatch(cache, delta(E, { subscribed: new Set(['a']), known }));
  assert.equal(named.responses.length, 0, 'nothing to send to an explicit subscription that has it all');
  assert.equal(cache.numDeltaWatches(), 1);
});

test('delta: an update sends the changed resource alone; a delete sends a removal', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const first = deltaWatch(cache, delta(E, { wildcard: true }));
  const w = deltaWatch(cache, deltaAck(delta(E, { wildcard: true }), first.last!));
  assert.equal(cache.numDeltaWatches('a'), 1);
  cache.updateResource('b', cla('b', 3));
  assert.deepEqual(names(w.last), ['b']);
  const w2 = deltaWatch(cache, deltaAck(deltaAck(delta(E, { wildcard: true }), first.last!), w.last!, 'n2'));
  cache.deleteResource('a');
  assert.deepEqual(w2.last!.removed, ['a']);
  assert.deepEqual(names(w2.last), []);
});

test('delta: explicit subscriptions wake only for their names; a newly subscribed absent name is reported removed', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a'), b: cla('b') } });
  const first = deltaWatch(cache, delta(E, { subscribed: new Set(['a', 'zz']), newlySubscribed: ['a', 'zz'] }));
  assert.deepEqual(names(first.last), ['a']);
  assert.deepEqual(first.last!.removed, ['zz']);
  const w = deltaWatch(cache, deltaAck(delta(E, { subscribed: new Set(['a', 'zz']) }), first.last!));
  cache.updateResource('b', cla('b', 2));
  assert.equal(w.responses.length, 0);
  cache.updateResource('zz', cla('zz'));
  assert.deepEqual(names(w.last), ['zz']);
});

test('delta: mixed SotW and delta watches on one update', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  const s = watch(cache, sotw(E, { resourceNames: ['a'], versionInfo: '0', responseNonce: 'n' }));
  const first = deltaWatch(cache, delta(E, { subscribed: new Set(['a']), newlySubscribed: ['a'] }));
  const d = deltaWatch(cache, deltaAck(delta(E, { subscribed: new Set(['a']) }), first.last!));
  cache.updateResource('a', cla('a', 5));
  assert.equal(s.responses.length, 1);
  assert.equal(d.responses.length, 1);
  assert.equal(cache.numWatches() + cache.numDeltaWatches(), 0);
});

test('delta: a NACK is not answered with the content it rejected', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  const w = deltaWatch(cache, delta(E, { wildcard: true, responseNonce: 'n', errorDetail: { code: 3, message: 'bad' } }));
  assert.equal(w.responses.length, 0);
  cache.updateResource('a', cla('a', 2));
  assert.deepEqual(names(w.last), ['a']);
});

test('a subscription to nothing is never answered', () => {
  const cache = new LinearCache(E, { initialResources: { a: cla('a') } });
  const w = watch(cache, sotw(E, { resourceNames: [] }));
  cache.updateResource('a', cla('a', 1));
  assert.equal(w.responses.length, 0);
  w.cancel();
  assert.equal(cache.numWatches(), 0);
});

test('delta: setResources of 10,000 changes sends each of 1,000 named watches only its own changed names', () => {
  const initial = new Map<string, EncodedResource>(Array.from({ length: 10_000 }, (_, i) => [`c${i}`, EncodedResource.encode(E, cla(`c${i}`))] as const));
  const cache = new LinearCache(E, { initialResources: initial });
  const ws = Array.from({ length: 1000 }, (_, i) => {
    const subscribed = new Set<string>([`c${i * 10}`, `c${i * 10 + 1}`]);
    const known = new Map([...subscribed].map((name) => [name, initial.get(name)!.hash]));
    return deltaWatch(cache, delta(E, { subscribed, known, responseNonce: 'n' }));
  });
  // Every resource changes except those of the odd watches' second names.
  cache.setResources(new Map([...initial.keys()].map((name) => [name, cla(name, Number(name.slice(1)) % 20 === 11 ? 8080 : 1)] as const)));
  assert.deepEqual(ws.map((w) => names(w.last)), ws.map((_, i) => (i % 2 === 1 ? [`c${i * 10}`] : [`c${i * 10}`, `c${i * 10 + 1}`])));
  assert.equal(cache.numDeltaWatches(), 0);
});

test('delta: a watch subscribed to a glob collection is woken by the changes of its members only', () => {
  const member = (id: string) => `xdstp://test/envoy.config.endpoint.v3.ClusterLoadAssignment/east/${id}`;
  const other = 'xdstp://test/envoy.config.endpoint.v3.ClusterLoadAssignment/west/1';
  const cache = new LinearCache(E, { initialResources: { [member('1')]: cla(member('1')), [other]: cla(other) } });
  const glob = 'xdstp://test/envoy.config.endpoint.v3.ClusterLoadAssignment/east/*';
  const first = deltaWatch(cache, delta(E, { subscribed: new Set([glob]), newlySubscribed: [glob] }));
  assert.deepEqual(names(first.last), [member('1')]);
  const w = deltaWatch(cache, deltaAck(delta(E, { subscribed: new Set([glob]) }), first.last!));
  cache.updateResources({ [other]: cla(other, 2) });
  assert.equal(w.responses.length, 0, 'a change outside the collection');
  cache.updateResources({ [member('2')]: cla(member('2')), [other]: cla(other, 3) });
  assert.deepEqual(names(w.last), [member('2')]);
});
