import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeUrl, encodeMessage, lookupType } from '../../src/resource/index.js';
import { encodeAny, encodeDeltaDiscoveryResponseBody, encodeDeltaResource, encodeDiscoveryResponseBody, withNonce } from '../../src/resource/wire.js';
import { samples } from '../support/sample-resources.js';

test('a hand-assembled DiscoveryResponse decodes as protobuf.js would build it', () => {
  const c = encodeMessage(TypeUrl.Cluster, samples[TypeUrl.Cluster]);
  const body = encodeDiscoveryResponseBody('v1', [encodeAny(TypeUrl.Cluster, c), encodeAny(TypeUrl.Cluster, c)], TypeUrl.Cluster, 'cp-1');
  const decoded = lookupType(TypeUrl.DiscoveryResponse).decode(withNonce(body, 'n-7')) as any;
  assert.equal(decoded.version_info, 'v1');
  assert.equal(decoded.type_url, TypeUrl.Cluster);
  assert.equal(decoded.nonce, 'n-7');
  assert.equal(decoded.control_plane.identifier, 'cp-1');
  assert.equal(decoded.resources.length, 2);
  assert.equal(decoded.resources[0].type_url, TypeUrl.Cluster);
  assert.deepEqual(Buffer.from(decoded.resources[1].value), c);
});

test('a hand-assembled DeltaDiscoveryResponse decodes as protobuf.js would build it', () => {
  const c = encodeMessage(TypeUrl.Cluster, samples[TypeUrl.Cluster]);
  const resource = encodeDeltaResource('backend', 'h1', encodeAny(TypeUrl.Cluster, c), 1500);
  const heartbeat = encodeDeltaResource('other', 'h2', undefined, 300);
  const body = encodeDeltaDiscoveryResponseBody('sys', [resource, heartbeat], TypeUrl.Cluster, ['gone', '']);
  const decoded = lookupType(TypeUrl.DeltaDiscoveryResponse).decode(withNonce(body, 'n')) as any;
  assert.equal(decoded.system_version_info, 'sys');
  assert.deepEqual(decoded.removed_resources, ['gone', '']);
  assert.equal(decoded.nonce, 'n');
  assert.equal(decoded.resources[0].name, 'backend');
  assert.equal(decoded.resources[0].version, 'h1');
  assert.equal(Number(decoded.resources[0].ttl.seconds), 1);
  assert.equal(decoded.resources[0].ttl.nanos, 500_000_000);
  assert.deepEqual(Buffer.from(decoded.resources[0].resource.value), c);
  assert.equal(decoded.resources[1].resource, null);
});

test('long fields use multi-byte lengths correctly', () => {
  const big = Buffer.alloc(300_000, 7);
  const decoded = lookupType('google.protobuf.Any').decode(encodeAny('t', big)) as any;
  assert.equal(decoded.value.length, 300_000);
});
