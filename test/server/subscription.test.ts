// The subscription rules of the xDS protocol, without a network.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeltaSubscription, SotwSubscription } from '../../src/server/subscription.js';

describe('SotW subscription', () => {
  test('legacy wildcard: a first request with no names wants everything, and stays so while names stay empty', () => {
    const s = new SotwSubscription(true);
    s.update([]);
    assert.equal(s.wildcard, true);
    s.update([]);
    assert.equal(s.wildcard, true);
  });

  test('after names, an empty list means nothing (unsubscribe all)', () => {
    const s = new SotwSubscription(true);
    s.update(['a']);
    assert.deepEqual([s.wildcard, s.names], [false, ['a']]);
    s.update([]);
    assert.deepEqual([s.wildcard, s.names], [false, []]);
  });

  test('explicit "*" is a wildcard next to names; dropping it keeps the names', () => {
    const s = new SotwSubscription(false);
    s.update(['*', 'a', 'a']);
    assert.deepEqual([s.wildcard, s.names], [true, ['a']]);
    s.update(['a']);
    assert.deepEqual([s.wildcard, s.names], [false, ['a']]);
  });

  test('types without legacy wildcard treat an empty first request as nothing', () => {
    const s = new SotwSubscription(false);
    s.update([]);
    assert.equal(s.wildcard, false);
  });
});

describe('delta subscription', () => {
  test('legacy wildcard on a first request naming nothing; later names do not end it, unsubscribing "*" does', () => {
    const s = new DeltaSubscription(true);
    assert.deepEqual(s.update([], [], {}), []);
    assert.equal(s.wildcard, true);
    assert.deepEqual(s.update(['a'], [], {}), ['a']);
    assert.equal(s.wildcard, true);
    s.update([], ['*'], {});
    assert.equal(s.wildcard, false);
    assert.deepEqual([...s.subscribed], ['a']);
  });

  test('initial versions are known, and names held from a previous stream are not "newly subscribed"', () => {
    const s = new DeltaSubscription(false);
    assert.deepEqual(s.update(['a', 'b'], [], { a: 'h1' }), ['b']);
    assert.deepEqual([...s.known], [['a', 'h1']]);
  });

  test('unsubscribing a name under wildcard marks it for resending; otherwise it is forgotten', () => {
    const s = new DeltaSubscription(false);
    s.update(['*', 'a', 'b'], [], {});
    s.sent([{ name: 'a', hash: 'ha' }, { name: 'b', hash: 'hb' }, { name: 'c', hash: 'hc' }], []);
    s.update([], ['a'], {});
    assert.equal(s.known.get('a'), '');
    s.update([], ['*'], {});
    s.update([], ['b'], {});
    assert.equal(s.known.has('b'), false);
    assert.equal(s.known.has('c'), false, 'held only through the wildcard, forgotten with it');
  });

  test('sent() records versions and forgets removed names', () => {
    const s = new DeltaSubscription(false);
    s.update(['a'], [], {});
    s.sent([{ name: 'a', hash: 'h1' }], []);
    assert.equal(s.known.get('a'), 'h1');
    s.sent([], ['a']);
    assert.equal(s.known.has('a'), false);
  });
});

describe('delta subscription: initial versions given as a map', () => {
  test('are taken without copying, and copied before any change', () => {
    const initial: ReadonlyMap<string, string> = new Map([['a', 'h1'], ['b', 'h2']]);
    const s = new DeltaSubscription(true);
    assert.deepEqual(s.update([], [], initial), []);
    assert.equal(s.known, initial);
    s.sent([], []);
    assert.equal(s.known, initial, 'nothing sent: still shared');
    s.sent([{ name: 'a', hash: 'h3' }], ['b']);
    assert.deepEqual([...s.known], [['a', 'h3']]);
    assert.deepEqual([...initial], [['a', 'h1'], ['b', 'h2']], 'the given map is never changed');
  });

  test('streams sending the same long subscribe list and initial versions share them, each copying on its first change', () => {
    const names = Array.from({ length: 40 }, (_, i) => `cluster-${i}`);
    const subscribe = [...names, names[0]];
    const initial = new Map(names.slice(0, 30).map((n) => [n, 'h1']));
    const a = new DeltaSubscription(false);
    const b = new DeltaSubscription(false);
    const newlyA = a.update(subscribe, [], initial);
    const newlyB = b.update(subscribe, [], initial);
    assert.deepEqual(newlyA, names.slice(30), 'names held from the previous stream are not newly subscribed');
    assert.equal(newlyB, newlyA);
    assert.equal(a.subscribed, b.subscribed, 'one set for both');
    assert.equal(a.subscribed.size, 40);
    assert.ok(a.sharedKey !== undefined && a.sharedKey === b.sharedKey, 'equal requests have one key');

    const other = new DeltaSubscription(false);
    other.update(subscribe, [], new Map(initial));
    assert.notEqual(other.sharedKey, a.sharedKey, 'other initial versions, another key');
    const wild = new DeltaSubscription(false);
    wild.update(['*', ...names], [], initial);
    assert.equal(wild.wildcard, true);
    assert.notEqual(wild.sharedKey, a.sharedKey, 'another list, another key');

    a.update(['extra'], [], {});
    assert.equal(a.sharedKey, undefined, 'changed: no longer equal to the others');
    assert.ok(a.subscribed.has('extra'));
    assert.equal(b.subscribed.has('extra'), false, 'the other stream is untouched');
    b.sent([{ name: 'cluster-0', hash: 'h2' }], ['cluster-1']);
    assert.equal(b.sharedKey, undefined);
    assert.equal(b.known.get('cluster-0'), 'h2');
    assert.equal(initial.get('cluster-0'), 'h1', 'the shared initial versions are never changed');
    assert.ok(initial.has('cluster-1'));
    const c = new DeltaSubscription(false);
    c.update(subscribe, ['cluster-2'], initial);
    assert.equal(c.sharedKey, undefined, 'a first request that also unsubscribes is its own');
    assert.equal(c.subscribed.has('cluster-2'), false);
    assert.ok(a.subscribed.has('cluster-2') && b.subscribed.has('cluster-2'));
  });

  test('first requests that name nothing share a key per map of initial versions and wildcard', () => {
    const initial = new Map([['a', 'h1']]);
    const legacyA = new DeltaSubscription(true);
    const legacyB = new DeltaSubscription(true);
    const plain = new DeltaSubscription(false);
    assert.deepEqual(legacyA.update([], [], initial), []);
    legacyB.update([], [], initial);
    plain.update([], [], initial);
    assert.ok(legacyA.sharedKey !== undefined && legacyA.sharedKey === legacyB.sharedKey);
    assert.notEqual(plain.sharedKey, legacyA.sharedKey, 'a wildcard stream and a stream wanting nothing differ');
    const other = new DeltaSubscription(true);
    other.update([], [], new Map(initial));
    assert.notEqual(other.sharedKey, legacyA.sharedKey);
    legacyA.update([], [], {});
    assert.equal(legacyA.sharedKey, undefined, 'a later request is not a first request');
  });

  test('a stream changes the shared initial versions only in its own layer over them', () => {
    const names = Array.from({ length: 40 }, (_, i) => `cluster-${i}`);
    const initial = new Map(names.map((n) => [n, 'h1']));
    const a = new DeltaSubscription(false);
    const b = new DeltaSubscription(false);
    a.update(names, [], initial);
    b.update(names, [], initial);
    assert.equal(a.known, initial, 'taken as is');
    a.sent([{ name: 'cluster-0', hash: 'h2' }], ['cluster-1']);
    assert.equal(a.known.get('cluster-0'), 'h2');
    assert.equal(a.known.has('cluster-1'), false);
    assert.equal(a.known.size, 39);
    assert.equal(a.known.get('cluster-5'), 'h1', 'the rest read through to the shared map');
    assert.equal(b.known, initial, 'the other stream still holds the shared map');
    assert.equal(initial.get('cluster-0'), 'h1', 'which never changes');
    assert.equal(initial.size, 40);
  });
});
