// State-of-the-world over the wire: ADS and every per-type service, against the protocol's rules.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { getResourceName, TypeUrl } from '../../src/resource/index.js';
import type { ResourceTypeUrl } from '../../src/resource/index.js';
import type { AckEvent, NackEvent } from '../../src/server/index.js';
import { cluster, endpoints, listener, route, samples } from '../support/sample-resources.js';
import { eventually, NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness;
const acks: AckEvent[] = [];
const nacks: NackEvent[] = [];

beforeEach(async () => {
  acks.length = 0;
  nacks.length = 0;
  h = await startHarness({ callbacks: { onAck: (e) => void acks.push(e), onNack: (e) => void nacks.push(e) } });
});
afterEach(() => h.stop());

describe('SotW over ADS', () => {
  test('a first CDS request with no names is a wildcard and gets every cluster', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a'), cluster('b')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    const r = await s.next();
    assert.equal(r.type_url, TypeUrl.Cluster);
    assert.equal(r.version_info, 'v1');
    assert.deepEqual(r.names.sort(), ['a', 'b']);
    assert.notEqual(r.nonce, '');
    assert.equal(h.cache.watchRequests[0].node.id, NODE.id);
  });

  test('named requests get the named resources only', async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b'), endpoints('c')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['a', 'c'] });
    assert.deepEqual((await s.next()).names, ['a', 'c']);
  });

  test('an explicit "*" is a wildcard alongside names', async () => {
    h.cache.set(TypeUrl.Secret, 'v1', [samples[TypeUrl.Secret], { name: 'other' }]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Secret, resource_names: ['*', 'server_cert'] });
    assert.deepEqual((await s.next()).names.sort(), ['other', 'server_cert']);
    const w = h.cache.watchRequests[0];
    assert.ok('wildcard' in w && w.wildcard);
    assert.deepEqual('resourceNames' in w && w.resourceNames, ['server_cert']);
  });

  test('an ACK opens a new watch that answers with the next version', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    const r1 = await s.next();
    s.ack(r1);
    await s.nothingWithin(100);
    await eventually(() => acks.length === 1);
    assert.deepEqual({ version: acks[0].version, nonce: acks[0].nonce, typeUrl: acks[0].typeUrl, node: acks[0].node.id }, { version: 'v1', nonce: r1.nonce, typeUrl: TypeUrl.Cluster, node: NODE.id });
    h.cache.set(TypeUrl.Cluster, 'v2', [cluster('a'), cluster('b')]);
    const r2 = await s.next();
    assert.equal(r2.version_info, 'v2');
    assert.notEqual(r2.nonce, r1.nonce);
  });

  test('a NACK is reported with the client\'s message and the rejected version is not sent again', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    const r1 = await s.next();
    s.ack(r1);
    h.cache.set(TypeUrl.Cluster, 'v2', [cluster('a', { connect_timeout: '1s' })]);
    const r2 = await s.next();
    s.nack(r2, 'cluster a: bad connect_timeout', 'v1');
    await eventually(() => nacks.length === 1);
    const nack = nacks[0];
    assert.equal(nack.rejectedVersion, 'v2');
    assert.equal(nack.currentVersion, 'v1');
    assert.equal(nack.errorDetail.message, 'cluster a: bad connect_timeout');
    assert.equal(nack.errorDetail.code, Status.INVALID_ARGUMENT);
    assert.equal(nack.node.id, NODE.id);
    const watch = h.cache.watchRequests.at(-1)!;
    assert.ok('rejectedVersion' in watch && watch.rejectedVersion === 'v2');
    await s.nothingWithin(200);
    h.cache.set(TypeUrl.Cluster, 'v3', [cluster('a')]);
    assert.equal((await s.next()).version_info, 'v3');
  });

  test('a request with a stale nonce is ignored', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    const r1 = await s.next();
    s.ack(r1);
    h.cache.set(TypeUrl.Cluster, 'v2', [cluster('b')]);
    const r2 = await s.next();
    const before = h.cache.watchRequests.length;
    // A request still carrying the older nonce: the client has not seen r2 yet, so it is ignored.
    s.send({ type_url: TypeUrl.Cluster, version_info: 'v1', response_nonce: r1.nonce, resource_names: ['x'] });
    s.ack(r2);
    await eventually(() => h.cache.watchRequests.length === before + 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.cache.watchRequests.length, before + 1, 'only the current-nonce request opened a watch');
    assert.equal(acks.length, 2);
  });

  test('one watch per type per stream: a new request replaces the watch', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['a'] });
    s.send({ type_url: TypeUrl.Endpoint, resource_names: ['a', 'b'] });
    s.send({ type_url: TypeUrl.Route, resource_names: ['r'] });
    await eventually(() => h.cache.watchRequests.length === 3);
    assert.equal(h.cache.openWatches, 2);
    assert.equal(h.xds.stats().watches, 2);
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    assert.deepEqual((await s.next()).names, ['a', 'b']);
    await s.nothingWithin(100);
  });

  test('adding a name at the same version is answered (Envoy adding an EDS cluster)', async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['a'] });
    const r1 = await s.next();
    s.ack(r1, ['a', 'b']);
    assert.deepEqual((await s.next()).names, ['a', 'b']);
  });

  test('a later empty list after names unsubscribes from everything (grpc-js-xds on close)', async () => {
    h.cache.set(TypeUrl.Listener, 'v1', [listener('l1', 'r'), listener('l2', 'r')]);
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Listener, resource_names: ['l1'] });
    const r1 = await s.next();
    assert.deepEqual(r1.names, ['l1']);
    s.ack(r1, []);
    await eventually(() => h.cache.watchRequests.length === 2);
    const w = h.cache.watchRequests[1];
    assert.ok('resourceNames' in w && w.wildcard === false && w.resourceNames.length === 0);
  });

  test('empty names on a type without legacy wildcard mean nothing', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint });
    await eventually(() => h.cache.watchRequests.length === 1);
    const w = h.cache.watchRequests[0];
    assert.ok('wildcard' in w && w.wildcard === false);
  });

  test('the node comes from the first request; later requests may omit it', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = h.client.sotw();
    s.send({ node: { ...NODE, metadata: { zone: 'a' } }, type_url: TypeUrl.Cluster });
    s.ack(await s.next());
    await eventually(() => h.cache.watchRequests.length === 2);
    assert.equal(h.cache.watchRequests[1].node.id, NODE.id);
    assert.deepEqual(h.cache.watchRequests[1].node.metadata, { zone: 'a' });
    assert.deepEqual([...h.cache.nodes], [[NODE.id, 1]]);
  });

  test('a request that changes the node id ends the stream with INVALID_ARGUMENT', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    s.send({ node: { id: 'other' }, type_url: TypeUrl.Endpoint });
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /node id changed.*node-1.*other/);
  });

  test('an unknown type URL on ADS ends the stream with INVALID_ARGUMENT naming it', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: 'type.googleapis.com/acme.Widget' });
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /acme\.Widget/);
  });

  test('a request without a type URL on ADS is INVALID_ARGUMENT', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE });
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /type_url is required/);
  });

  test('ordered ADS writes ready responses in type order: clusters, endpoints, listeners, routes', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Route, resource_names: ['r'] });
    s.send({ type_url: TypeUrl.Listener });
    s.send({ type_url: TypeUrl.Endpoint, resource_names: ['a'] });
    s.send({ type_url: TypeUrl.Cluster });
    await eventually(() => h.cache.openWatches === 4);
    // One update answering every watch in one pass, in the "wrong" order.
    h.cache.set(TypeUrl.Route, 'v1', [route('r', 'a')]);
    h.cache.set(TypeUrl.Listener, 'v1', [listener('l', 'r')]);
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a')]);
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const order = [(await s.next()).type_url, (await s.next()).type_url, (await s.next()).type_url, (await s.next()).type_url];
    assert.deepEqual(order, [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route]);
  });

  test('the client half-closing ends the stream with OK and releases its watches', async () => {
    const s = h.client.sotw();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    await eventually(() => h.cache.openWatches === 1);
    s.end();
    assert.equal((await s.status).code, Status.OK);
    await eventually(() => h.cache.openWatches === 0 && h.xds.stats().streams === 0 && h.cache.nodes.size === 0);
  });
});

const PER_TYPE_SOTW: ResourceTypeUrl[] = [
  TypeUrl.Cluster,
  TypeUrl.Endpoint,
  TypeUrl.Listener,
  TypeUrl.Route,
  TypeUrl.ScopedRoute,
  TypeUrl.Secret,
  TypeUrl.Runtime,
  TypeUrl.ExtensionConfig,
];

describe('SotW over each per-type service', () => {
  for (const typeUrl of PER_TYPE_SOTW) {
    test(`${typeUrl.split('.').pop()}: the type is inferred, responses carry it, and ACKs work`, async () => {
      const sample = samples[typeUrl];
      h.cache.set(typeUrl, 'v1', [sample]);
      const name = getResourceName(typeUrl, sample);
      const s = h.client.sotw({ typeUrl });
      s.send({ node: NODE, resource_names: [name] });
      const r = await s.next();
      assert.equal(r.type_url, typeUrl);
      assert.deepEqual(r.names, [name]);
      assert.equal(r.resources[0].typeUrl, typeUrl);
      s.ack(r, [name]);
      await eventually(() => acks.length === 1);
    });
  }

  test('a type URL that does not match the service is INVALID_ARGUMENT', async () => {
    const s = h.client.sotw({ typeUrl: TypeUrl.Cluster });
    s.send({ node: NODE, type_url: TypeUrl.Listener });
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /does not match this service/);
  });
});
