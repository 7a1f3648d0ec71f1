import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResourceError, TypeUrl, encodeMessage, pack, unpack } from '../../src/resource/index.js';
import { encodeAny } from '../../src/resource/wire.js';

test('pack gives a typed_config in ProtoJSON shape and checks it at once', () => {
  const router = pack('envoy.extensions.filters.http.router.v3.Router', { suppress_envoy_headers: true });
  assert.deepEqual(router, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true });
  // @ts-expect-error: Router has no field "nope" (the compiler says so too)
  assert.throws(() => pack('envoy.extensions.filters.http.router.v3.Router', { nope: 1 }), ResourceError);
});

test('unpack reads both the ProtoJSON and the binary shape of an Any', () => {
  const json = unpack(pack(TypeUrl.Cluster, { name: 'x', connect_timeout: '1s' }));
  assert.equal(json.typeUrl, TypeUrl.Cluster);
  assert.deepEqual(json.message, { name: 'x', connect_timeout: '1s' });
  const bytes = encodeMessage(TypeUrl.Cluster, { name: 'y' });
  const binary = unpack({ type_url: TypeUrl.Cluster, value: bytes });
  assert.deepEqual(binary.message, { name: 'y' });
  assert.ok(encodeAny(TypeUrl.Cluster, bytes).length > bytes.length);
});
