// The subscription rules of the xDS protocol, without a network.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeltaSubscription, SotwSubscription } from '../../src/server/subscription.js';

const NONE: ReadonlyMap<string, string> = new Map();

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

  test('a request that repeats the names keeps the subscription; a new order, a duplicate or "*" is applied', () => {
    const s = new SotwSubscription(false);
    s.update(['b', 'a']);
    const names = s.names;
    s.update(['b', 'a']);
    assert.equal(s.names, names, 'an ACK with the same list changes nothing');
    s.update(['a', 'b']);
    assert.deepEqual([s.wildcard, s.names], [false, ['a', 'b']]);
    s.update(['a', 'b', 'b']);
    assert.deepEqual([s.wildcard, s.names], [false, ['a', 'b']]);
    s.update(['a', 'b', '*']);
    assert.deepEqual([s.wildcard, s.names], [true, ['a', 'b']]);
    s.update(['a', 'b']);
    assert.deepEqual([s.wildcard, s.names], [false, ['a', 'b']], 'the same names without "*" end the wildcard');
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
    assert.deepEqual(s.update([], [], NONE), []);
    assert.equal(s.wildcard, true);
    assert.deepEqual(s.update(['a'], [], NONE), ['a']);
    assert.equal(s.wildcard, true);
    s.update([], ['*'], NONE);
    assert.equal(s.wildcard, false);
    assert.deepEqual([...s.subscribed], ['a']);
  });

  test('a name subscribed twice, in one request or in two, is newly subscribed once', () => {
    const s = new DeltaSubscription(false);
    assert.deepEqual(s.update(['a', 'b', 'a'], [], NONE), ['a', 'b']);
    assert.deepEqual(s.update(['b', 'c'], [], NONE), ['c']);
    assert.deepEqual([...s.subscribed], ['a', 'b', 'c']);
  });

  test('initial versions are known, and names held from a previous stream are not "newly subscribed"', () => {
    const s = new DeltaSubscription(false);
    assert.deepEqual(s.update(['a', 'b'], [], new Map([['a', 'h1']])), ['b']);
    assert.deepEqual([...s.known], [['a', 'h1']]);
  });

  test('initial versions shared by streams stay as given: each stream changes only a copy of its own', () => {
    const shared: ReadonlyMap<string, string> = new Map([['a', 'h1'], ['b', 'h2'], ['c', 'h3']]);
    const one = new DeltaSubscription(true);
    const two = new DeltaSubscription(true);
    const three = new DeltaSubscription(true);
    for (const s of [one, two, three]) s.update([], [], shared);
    assert.equal(one.known, shared, 'held as given while nothing changes');
    one.sent([{ name: 'a', hash: 'h1' }], []);
    assert.equal(one.known, shared, 'a response of what the client already holds changes nothing');
    one.sent([{ name: 'a', hash: 'h1-new' }], ['b']);
    two.forget(['c']);
    three.update(['b'], [], NONE);
    assert.equal(three.known, shared, 'subscribing to a name held changes nothing held');
    three.update([], ['b'], NONE);
    assert.deepEqual([...shared], [['a', 'h1'], ['b', 'h2'], ['c', 'h3']], 'the shared map is never changed');
    assert.deepEqual([...one.known], [['a', 'h1-new'], ['c', 'h3']]);
    assert.deepEqual([...two.known], [['a', 'h1'], ['b', 'h2']]);
    assert.deepEqual([...three.known], [['a', 'h1'], ['b', ''], ['c', 'h3']], 'unsubscribed under wildcard: to be sent again');
  });

  test('unsubscribing a name under wildcard marks it for resending; otherwise it is forgotten', () => {
    const s = new DeltaSubscription(false);
    s.update(['*', 'a', 'b'], [], NONE);
    s.sent([{ name: 'a', hash: 'ha' }, { name: 'b', hash: 'hb' }, { name: 'c', hash: 'hc' }], []);
    s.update([], ['a'], NONE);
    assert.equal(s.known.get('a'), '');
    s.update([], ['*'], NONE);
    s.update([], ['b'], NONE);
    assert.equal(s.known.has('b'), false);
    assert.equal(s.known.has('c'), false, 'held only through the wildcard, forgotten with it');
  });

  test('sent() records versions and forgets removed names', () => {
    const s = new DeltaSubscription(false);
    s.update(['a'], [], NONE);
    s.sent([{ name: 'a', hash: 'h1' }], []);
    assert.equal(s.known.get('a'), 'h1');
    s.sent([], ['a']);
    assert.equal(s.known.has('a'), false);
  });

  test('the revision changes with the first request, subscribes, unsubscribes and forgotten names, not with responses sent', () => {
    const s = new DeltaSubscription(false);
    const seen = [s.revision];
    s.update([], [], NONE);
    seen.push(s.revision);
    s.update(['a'], [], NONE);
    seen.push(s.revision);
    s.sent([{ name: 'a', hash: 'h1' }], []);
    s.update([], [], NONE);
    seen.push(s.revision);
    s.forget(['a']);
    seen.push(s.revision);
    s.forget([]);
    s.update([], ['a'], NONE);
    seen.push(s.revision);
    assert.equal(new Set(seen).size, 5, `revisions ${seen.join(', ')}`);
    assert.equal(seen[3], seen[2], 'a response and a plain ACK change nothing');
  });
});
