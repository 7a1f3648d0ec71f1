// Decoding delta requests: long identical runs of names and versions are decoded once and shared.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lookupType, TypeUrl } from '../../src/resource/index.js';
import { decodeDeltaDiscoveryRequest, initialVersionsOf, subscribeListOf, UndecodableRequest } from '../../src/server/messages.js';
import type { XdsDeltaDiscoveryRequest } from '../../src/server/messages.js';

const names = Array.from({ length: 100 }, (_, i) => `cluster-${String(i).padStart(5, '0')}`);

function encode(subscribe: string[], versions: Record<string, string>): Uint8Array {
  const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  return type.encode(type.fromObject({ type_url: TypeUrl.Endpoint, resource_names_subscribe: subscribe, initial_resource_versions: versions })).finish();
}

function decode(bytes: Uint8Array): XdsDeltaDiscoveryRequest {
  const decoded = decodeDeltaDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  return decoded.request;
}

test('requests with the same long subscribe list and versions share one decoded list and map', () => {
  const versions = Object.fromEntries(names.map((n) => [n, `h-${n}`]));
  const a = decode(encode(names, versions));
  const b = decode(encode(names, versions));
  assert.deepEqual(a.resource_names_subscribe, names);
  assert.notEqual(a.resource_names_subscribe, b.resource_names_subscribe, 'each request has its own list to change');
  assert.equal(subscribeListOf(a), subscribeListOf(b), 'one shared list behind them');
  assert.equal(initialVersionsOf(a), initialVersionsOf(b), 'one shared map of versions');
  assert.equal(initialVersionsOf(a).get('cluster-00007'), 'h-cluster-00007');

  b.resource_names_subscribe.push('another');
  assert.equal(subscribeListOf(b), b.resource_names_subscribe, 'a list a callback changed is the request\'s own');
  assert.notEqual(subscribeListOf(a), b.resource_names_subscribe);

  const other = decode(encode([...names.slice(1), 'cluster-99999'], versions));
  assert.notEqual(subscribeListOf(other), subscribeListOf(a), 'other bytes, another list');
  assert.deepEqual(subscribeListOf(other), [...names.slice(1), 'cluster-99999']);
});

test('short lists are decoded per request', () => {
  const a = decode(encode(['a', 'b'], {}));
  const b = decode(encode(['a', 'b'], {}));
  assert.deepEqual(subscribeListOf(a), ['a', 'b']);
  assert.equal(subscribeListOf(a), a.resource_names_subscribe);
  assert.notEqual(subscribeListOf(a), subscribeListOf(b));
});
