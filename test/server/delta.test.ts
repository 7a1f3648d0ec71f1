// Delta (incremental) xDS over the wire: ADS and every per-type service.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { EncodedResource } from '../../src/cache/encoded-resource.js';
import { getResourceName, lookupType, RESOURCE_TYPE_URLS, TypeUrl } from '../../src/resource/index.js';
import type { DeltaWatchRequest } from '../../src/cache/config-watcher.js';
import { deny } from '../../src/server/index.js';
import type { AckEvent, NackEvent } from '../../src/server/index.js';
import { cluster, endpoints, samples } from '../support/sample-resources.js';
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

const lastDelta = (): DeltaWatchRequest => h.cache.watchRequests.at(-1) as DeltaWatchRequest;

describe('delta over ADS', () => {
  test('a first CDS request with no names is a wildcard; responses carry names and content-hash versions', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a'), cluster('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Cluster });
    const r = await s.next();
    assert.equal(r.type_url, TypeUrl.Cluster);
    assert.equal(r.system_version_info, 'v1');
    assert.deepEqual(r.names.sort(), ['a', 'b']);
    assert.equal(r.resources[0].version, EncodedResource.encode(TypeUrl.Cluster, cluster(r.names[0])).hash);
    assert.ok(lastDelta().wildcard);
  });

  test('subscribe and unsubscribe change what is watched; only changes are sent', async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    assert.deepEqual(r1.names, ['a']);
    s.ack(r1, { resource_names_subscribe: ['b'] });
    const r2 = await s.next();
    assert.deepEqual(r2.names, ['b'], 'a is held at its version and not resent');
    s.ack(r2, { resource_names_unsubscribe: ['a'] });
    await eventually(() => acks.length === 2);
    assert.deepEqual([...lastDelta().subscribed], ['b']);
    assert.deepEqual([...lastDelta().known.keys()], ['b']);
    h.cache.set(TypeUrl.Endpoint, 'v2', [endpoints('a', 5), endpoints('b')]);
    await s.nothingWithin(150);
    h.cache.set(TypeUrl.Endpoint, 'v3', [endpoints('a', 5)]);
    const r3 = await s.next();
    assert.deepEqual(r3.removed_resources, ['b']);
  });

  test("an ACK hands back the last response's returned state; a request that changes the subscription does not", async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    assert.equal(lastDelta().returnedState, undefined, 'a first request has no response behind it');
    const state1 = h.cache.deltaResponses[0].returnedState;
    s.ack(r1);
    await eventually(() => acks.length === 1);
    assert.equal(lastDelta().returnedState, state1, 'handed back unchanged');
    s.ack(r1, { resource_names_subscribe: ['b'] });
    const r2 = await s.next();
    assert.equal(lastDelta().returnedState, undefined, 'b is newly subscribed: the client holds more than the state says');
    s.ack(r2);
    await eventually(() => acks.length === 2);
    assert.equal(lastDelta().returnedState, h.cache.deltaResponses[1].returnedState);
    s.ack(r2, { resource_names_unsubscribe: ['a'] });
    await eventually(() => h.cache.watchRequests.length === 5);
    assert.equal(lastDelta().returnedState, undefined, 'an unsubscribe changes the subscription too');
    s.ack(r2);
    await eventually(() => h.cache.watchRequests.length === 6);
    assert.equal(lastDelta().returnedState, undefined, 'still changed since the last response');
  });

  test('the watch request carries the verdict on the last response once: the ACK, not a later request repeating its nonce', async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    assert.equal(lastDelta().ack, undefined, 'a first request answers no response');
    s.ack(r1);
    await eventually(() => acks.length === 1);
    assert.equal(lastDelta().ack, acks[0], 'the event onAck received');
    assert.equal(acks[0].version, 'v1', "the version of the response the nonce names");
    s.ack(r1, { resource_names_subscribe: ['b'] });
    const r2 = await s.next();
    assert.equal((h.cache.watchRequests[2] as DeltaWatchRequest).ack, undefined, 'the same nonce again is no second verdict');
    assert.equal(acks.length, 1);
    s.ack(r2);
    await eventually(() => acks.length === 2);

    h.cache.set(TypeUrl.Endpoint, 'v3', [endpoints('a', 6), endpoints('b')]);
    const r4 = await s.next();
    s.nack(r4, 'rejected');
    await eventually(() => nacks.length === 1);
    assert.equal(lastDelta().nack, nacks[0]);
    assert.equal(nacks[0].rejectedVersion, 'v3');
  });

  test('initial_resource_versions are known: unchanged resources are not resent on reconnect', async () => {
    const a = EncodedResource.encode(TypeUrl.Cluster, cluster('a'));
    h.cache.set(TypeUrl.Cluster, 'v1', [a, cluster('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*'], initial_resource_versions: { a: a.hash } });
    assert.deepEqual((await s.next()).names, ['b']);
  });

  test('streams reconnecting with the same initial versions in other orders each get only what they lack, then each change', async () => {
    const held = Array.from({ length: 40 }, (_, i) => EncodedResource.encode(TypeUrl.Cluster, cluster(`c${i}`)));
    h.cache.set(TypeUrl.Cluster, 'v1', [...held.slice(0, 39), cluster('c39', { connect_timeout: '9s' })]);
    const versions = (order: readonly EncodedResource[]): Record<string, string> => Object.fromEntries(order.map((r) => [r.name, r.hash]));
    const orders = [held, held.slice().reverse(), [...held.slice(20), ...held.slice(0, 20)]];
    const streams = orders.map((order) => {
      const s = h.client.delta();
      s.send({ node: NODE, type_url: TypeUrl.Cluster, initial_resource_versions: versions(order) });
      return s;
    });
    const first = await Promise.all(streams.map((s) => s.next()));
    for (const r of first) assert.deepEqual(r.names, ['c39'], 'only the changed cluster');
    streams.forEach((s, i) => s.ack(first[i]));
    await eventually(() => acks.length === 3);
    h.cache.set(TypeUrl.Cluster, 'v2', [...held.slice(0, 38), cluster('c38', { connect_timeout: '8s' }), cluster('c39', { connect_timeout: '9s' })]);
    const second = await Promise.all(streams.map((s) => s.next()));
    for (const r of second) assert.deepEqual(r.names, ['c38']);
    await Promise.all(streams.map((s) => s.nothingWithin(100)));
  });

  test('an initial_resource_versions entry that runs past its end ends the stream with INVALID_ARGUMENT', async () => {
    const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const entries = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${String(i).padStart(2, '0')}`, `h${i}`]));
    const bytes = type.encode(type.fromObject({ type_url: TypeUrl.Cluster, initial_resource_versions: entries })).finish();
    // The first entry (tag 42, its length, then the key's tag 10 and length): the key claims 60 bytes.
    assert.deepEqual([...bytes.subarray(bytes.indexOf(42), bytes.indexOf(42) + 4)], [42, 9, 10, 3]);
    bytes[bytes.indexOf(42) + 3] = 60;
    const s = h.client.delta();
    s.send(Buffer.from(bytes));
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /cannot decode envoy\.service\.discovery\.v3\.DeltaDiscoveryRequest: .*(runs past|out of range)/);
  });

  test('initial versions are read only once the node is accepted: a denied stream is told so, whatever its entries', async () => {
    const own = await startHarness({ authorize: () => deny('not this node') });
    try {
      const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
      const entries = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${String(i).padStart(2, '0')}`, `h${i}`]));
      const bytes = type.encode(type.fromObject({ node: NODE, type_url: TypeUrl.Cluster, initial_resource_versions: entries })).finish();
      // A malformed entry (its key claims 60 bytes): refused for the node before the entries are read.
      bytes[bytes.indexOf(42) + 3] = 60;
      const s = own.client.delta();
      s.send(Buffer.from(bytes));
      const st = await s.status;
      assert.equal(st.code, Status.PERMISSION_DENIED);
    } finally {
      await own.stop();
    }
  });

  test('a later request of a type with malformed initial versions is served as the protocol says: they are ignored', async () => {
    const seen: Record<string, string>[] = [];
    const observed = await startHarness({ callbacks: { onAck: (e) => void acks.push(e), onStreamDeltaRequest: (_id, request) => void seen.push({ ...request.initial_resource_versions }) } });
    try {
      for (const harness of [h, observed]) {
        acks.length = 0;
        harness.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
        const s = harness.client.delta();
        s.send({ node: NODE, type_url: TypeUrl.Cluster });
        const r = await s.next();
        const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
        const entries = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${String(i).padStart(2, '0')}`, `h${i}`]));
        const bytes = type.encode(type.fromObject({ type_url: TypeUrl.Cluster, response_nonce: r.nonce, initial_resource_versions: entries })).finish();
        bytes[bytes.indexOf(42) + 3] = 60;
        s.send(Buffer.from(bytes));
        await eventually(() => acks.length === 1, 3000, 'the ACK');
        harness.cache.set(TypeUrl.Cluster, 'v2', [cluster('a', { connect_timeout: '2s' })]);
        assert.equal((await s.next()).system_version_info, 'v2', 'the stream goes on');
      }
      assert.deepEqual(seen, [{}, {}], 'callbacks see no versions on either request');
    } finally {
      await observed.stop();
    }
  });

  test('a NACK is reported and the rejected resources are not resent until they change', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    s.nack(r1, 'cluster a rejected');
    await eventually(() => nacks.length === 1);
    assert.equal(nacks[0].errorDetail.message, 'cluster a rejected');
    assert.equal(nacks[0].rejectedVersion, 'v1');
    assert.equal(nacks[0].delta, true);
    await s.nothingWithin(150);
    h.cache.set(TypeUrl.Cluster, 'v2', [cluster('a', { connect_timeout: '2s' })]);
    assert.equal((await s.next()).system_version_info, 'v2');
  });

  test('unsubscribing "*" leaves only the named resources', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a'), cluster('b')]);
    const s = h.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*', 'a'] });
    const r1 = await s.next();
    s.ack(r1, { resource_names_unsubscribe: ['*'] });
    await eventually(() => acks.length === 1);
    assert.equal(lastDelta().wildcard, false);
    assert.deepEqual([...lastDelta().known.keys()], ['a']);
  });

  test('an unknown type URL ends the stream with INVALID_ARGUMENT naming it', async () => {
    const s = h.client.delta();
    s.send({ node: NODE, type_url: 'type.googleapis.com/acme.Gadget' });
    const st = await s.status;
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /acme\.Gadget/);
  });
});

// Every resource type has a delta method on its own service.
const PER_TYPE_DELTA = RESOURCE_TYPE_URLS;

describe('delta over each per-type service', () => {
  for (const typeUrl of PER_TYPE_DELTA) {
    test(`${typeUrl.split('.').pop()}: the type is inferred and the subscribed resource arrives`, async () => {
      const name = getResourceName(typeUrl, samples[typeUrl]) || 'lb-1';
      h.cache.set(typeUrl, 'v1', [EncodedResource.encode(typeUrl, samples[typeUrl], { name })]);
      const s = h.client.delta({ typeUrl });
      s.send({ node: NODE, resource_names_subscribe: [name] });
      const r = await s.next();
      assert.equal(r.type_url, typeUrl);
      assert.deepEqual(r.names, [name]);
      s.ack(r);
      await eventually(() => acks.length === 1);
    });
  }

  test('a type URL that does not match the service is INVALID_ARGUMENT', async () => {
    const s = h.client.delta({ typeUrl: TypeUrl.VirtualHost });
    s.send({ node: NODE, type_url: TypeUrl.Route });
    assert.equal((await s.status).code, Status.INVALID_ARGUMENT);
  });
});

test('callbacks see initial_resource_versions in the request, as the client sent them', async () => {
  const seen: Record<string, string>[] = [];
  const own = await startHarness({ callbacks: { onStreamDeltaRequest: (_id, request) => void seen.push({ ...request.initial_resource_versions }) } });
  try {
    own.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const s = own.client.delta();
    s.send({ node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*'], initial_resource_versions: { a: 'h-old', b: 'h-b' } });
    await s.next();
    assert.deepEqual(seen, [{ a: 'h-old', b: 'h-b' }]);
  } finally {
    await own.stop();
  }
});
