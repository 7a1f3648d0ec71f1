import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource, Snapshot, SnapshotConsistencyError, withName, withTtl } from '../../src/cache/index.js';
import { ResourceError, TypeUrl, XdsError, decodeMessage } from '../../src/resource/index.js';
import { cluster, endpoints, listener, route, samples } from '../support/sample-resources.js';

function complete(version = '1'): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Cluster]: [cluster('a'), cluster('b')],
    [TypeUrl.Endpoint]: [endpoints('a'), endpoints('b')],
    [TypeUrl.Listener]: [listener('l', 'r')],
    [TypeUrl.Route]: [route('r', 'a')],
  });
}

test('every resource is validated and encoded once when the snapshot is built', () => {
  const before = EncodedResource.encodeCount;
  const snapshot = complete();
  assert.equal(EncodedResource.encodeCount - before, 6);
  const a = snapshot.getResources(TypeUrl.Cluster).get('a')!;
  assert.equal(decodeMessage(TypeUrl.Cluster, a.bytes)['name'], 'a');
  assert.match(a.hash, /^[\w-]{16}$/);
});

test('a resource that does not fit its type is rejected, naming the resource and the field path', () => {
  assert.throws(
    () => new Snapshot('1', { [TypeUrl.Cluster]: [cluster('bad', { connect_timeout: 5 })] }),
    (error: unknown) => error instanceof ResourceError && /Cluster "bad" at connect_timeout/.test(error.message),
  );
});

test("content that breaks Envoy's rules is rejected every time, also beside content of its type that passed", () => {
  // Content that passed is not checked again (it is remembered by type and content hash); content that failed
  // is never remembered.
  new Snapshot('1', { [TypeUrl.Endpoint]: [endpoints('a', 1, 8080)] });
  new Snapshot('2', { [TypeUrl.Endpoint]: [endpoints('a', 1, 8080)] });
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => new Snapshot('3', { [TypeUrl.Endpoint]: [endpoints('a', 1, 8080), endpoints('b', 1, 70000)] }),
      (error: unknown) => error instanceof ResourceError && /"b" at .*port_value: 70000 is more than 65535/.test(error.message),
    );
  }
});

test('two resources of one type with the same name are an error', () => {
  assert.throws(
    () => new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a'), cluster('a')] }),
    (error: unknown) => error instanceof XdsError && /two clusters named "a"/.test(error.message),
  );
});

test('an empty version is rejected: it cannot be told apart from a client with no version', () => {
  assert.throws(() => new Snapshot('', {}), /non-empty string/);
});

test('an unknown type URL is rejected, listing the known ones', () => {
  assert.throws(() => new Snapshot('1', { 'type.googleapis.com/foo.Bar': [] } as never), /unknown xDS resource type URL "type.googleapis.com\/foo.Bar"/);
});

test('types not given are empty at the snapshot version', () => {
  const snapshot = new Snapshot('7', { [TypeUrl.Cluster]: [cluster('a')] });
  assert.equal(snapshot.getVersion(TypeUrl.Listener), '7');
  assert.equal(snapshot.getResources(TypeUrl.Listener).size, 0);
  assert.ok(snapshot.has(TypeUrl.Secret));
});

test('per-type versions: an option of the constructor, or withVersions for only some types', () => {
  const a = new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a')] }, { versions: { [TypeUrl.Endpoint]: 'e9' } });
  assert.equal(a.getVersion(TypeUrl.Cluster), '1');
  assert.equal(a.getVersion(TypeUrl.Endpoint), 'e9');
  const b = Snapshot.withVersions({ [TypeUrl.Cluster]: { version: 'c3', resources: [cluster('a')] }, [TypeUrl.Route]: { version: 'r5', resources: [] } });
  assert.equal(b.getVersion(TypeUrl.Cluster), 'c3');
  assert.equal(b.getVersion(TypeUrl.Route), 'r5');
  assert.equal(b.has(TypeUrl.Listener), false);
  assert.equal(b.getVersion(TypeUrl.Listener), '');
  assert.deepEqual(b.typeUrls(), [TypeUrl.Cluster, TypeUrl.Route]);
  assert.equal(b.version, 'c3/r5');
});

test('consistent() passes when every reference resolves', () => {
  complete().consistent();
});

test('consistent() names each missing reference and who makes it', () => {
  const snapshot = new Snapshot('3', {
    [TypeUrl.Cluster]: [cluster('a'), cluster('b'), cluster('static', { type: 'STATIC' })],
    [TypeUrl.Endpoint]: [endpoints('a')],
    [TypeUrl.Listener]: [listener('l', 'missing-route')],
  });
  assert.throws(
    () => snapshot.consistent(),
    (error: unknown) => {
      assert.ok(error instanceof SnapshotConsistencyError);
      assert.match(error.message, /Cluster "b" needs ClusterLoadAssignment "b"/);
      assert.match(error.message, /Listener "l" needs RouteConfiguration "missing-route"/);
      assert.deepEqual(error.missing.map((m) => m.name).sort(), ['b', 'missing-route']);
      return true;
    },
  );
});

test('a LEDS LbEndpoint, which has no name field, is served under the name given with withName', () => {
  const lb = samples[TypeUrl.LbEndpoint];
  assert.throws(() => new Snapshot('1', { [TypeUrl.LbEndpoint]: [lb] }), /has no name: .*withName/);
  const snapshot = new Snapshot('1', { [TypeUrl.LbEndpoint]: [withName('eds/10.1.0.1:9000', lb)] });
  assert.deepEqual([...snapshot.getResources(TypeUrl.LbEndpoint).keys()], ['eds/10.1.0.1:9000']);
});

test('withName must agree with the name inside the resource', () => {
  assert.throws(() => new Snapshot('1', { [TypeUrl.Cluster]: [withName('other', cluster('a'))] }), /"a" was given the different name "other"/);
});

test('withTtl gives a resource a time to live, and composes with withName', () => {
  const snapshot = new Snapshot('1', {
    [TypeUrl.Cluster]: [withTtl(cluster('a'), 2000)],
    [TypeUrl.LbEndpoint]: [withTtl(withName('ep', samples[TypeUrl.LbEndpoint]), 500)],
  });
  assert.equal(snapshot.getResources(TypeUrl.Cluster).get('a')!.ttlMs, 2000);
  assert.equal(snapshot.getResources(TypeUrl.LbEndpoint).get('ep')!.ttlMs, 500);
  assert.throws(() => new Snapshot('1', { [TypeUrl.Cluster]: [withTtl(cluster('a'), 0)] }), /TTL .* positive/);
});

test('already encoded resources are reused across snapshots without encoding again', () => {
  const shared = EncodedResource.encode(TypeUrl.Cluster, cluster('a'));
  const before = EncodedResource.encodeCount;
  const one = new Snapshot('1', { [TypeUrl.Cluster]: [shared] });
  const two = new Snapshot('2', { [TypeUrl.Cluster]: [shared] });
  assert.equal(EncodedResource.encodeCount, before);
  assert.equal(one.getResources(TypeUrl.Cluster).get('a'), shared);
  assert.equal(two.getResources(TypeUrl.Cluster).get('a'), shared);
  assert.throws(() => new Snapshot('1', { [TypeUrl.Endpoint]: [shared] as never }), /Cluster "a" was given among the endpoints/);
});

test('Snapshot.create builds the same snapshot in slices, leaving the event loop free', async () => {
  const clusters = Array.from({ length: 2000 }, (_, i) => cluster(`c${i}`));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const snapshot = await Snapshot.create('1', { [TypeUrl.Cluster]: clusters }, { sliceMs: 2 });
  clearInterval(timer);
  const sync = new Snapshot('1', { [TypeUrl.Cluster]: clusters });
  assert.equal(snapshot.getResources(TypeUrl.Cluster).size, 2000);
  assert.equal(snapshot.getResources(TypeUrl.Cluster).get('c1999')!.hash, sync.getResources(TypeUrl.Cluster).get('c1999')!.hash);
  assert.ok(ticks > 0, 'timers ran while the snapshot was built');
});
