// Which endpoint assignments a cluster change makes the server send again (see src/server/warming.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { changedEndpointNames, endpointNamesOf } from '../../src/server/warming.js';
import { DeltaSubscription } from '../../src/server/subscription.js';
import { cluster } from '../support/sample-resources.js';

const encode = (resource: unknown): EncodedResource => EncodedResource.encode(TypeUrl.Cluster, resource);

test('an EDS cluster takes its endpoints from its service_name, or else from its own name', () => {
  const named = encode(cluster('a', { eds_cluster_config: { service_name: 'svc-a', eds_config: { ads: {} } } }));
  const unnamed = encode(cluster('b'));
  assert.deepEqual([...endpointNamesOf([named, unnamed])].sort(), ['b', 'svc-a']);
});

test('a cluster rebuilt from its bytes alone (as a worker holds it) names its endpoints too', () => {
  const named = encode(cluster('a', { eds_cluster_config: { service_name: 'svc-a', eds_config: { ads: {} } } }));
  const fromBytes = EncodedResource.fromEncoding(TypeUrl.Cluster, named.name, named.bytes, named.hash, undefined);
  assert.deepEqual([...endpointNamesOf([fromBytes])], ['svc-a']);
});

test('a cluster that is not EDS takes no endpoints from EDS', () => {
  const dns = encode({ name: 'dns', type: 'STRICT_DNS', connect_timeout: '1s', load_assignment: { cluster_name: 'dns' } });
  assert.deepEqual([...endpointNamesOf([dns])], []);
});

test('between two CDS responses, only new and changed clusters count', () => {
  const a1 = encode(cluster('a'));
  const b1 = encode(cluster('b'));
  const a2 = encode(cluster('a', { connect_timeout: '9s' }));
  const c1 = encode(cluster('c'));
  assert.deepEqual([...changedEndpointNames([a1, b1], [a2, b1, c1])].sort(), ['a', 'c']);
  assert.deepEqual([...changedEndpointNames([a1, b1], [a1, b1])], []);
});

test('a forgotten name stays subscribed but is no longer known to be held', () => {
  const subscription = new DeltaSubscription(false);
  subscription.update(['a', 'b'], [], new Map());
  subscription.sent([{ name: 'a', hash: 'h1' }, { name: 'b', hash: 'h2' }], []);
  subscription.forget(['a']);
  assert.deepEqual([...subscription.subscribed].sort(), ['a', 'b']);
  assert.deepEqual([...subscription.known], [['b', 'h2']]);
});
