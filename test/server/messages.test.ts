// Decoding discovery requests: every field read as protobuf defines it, the node left in wire form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { lookupType, TypeUrl } from '../../src/resource/index.js';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest, decodeNode, readNodeId, UndecodableRequest, withInitialVersions } from '../../src/server/messages.js';

function encode(message: string, fields: Record<string, unknown>): Uint8Array {
  const type = lookupType(`envoy.service.discovery.v3.${message}`);
  return type.encode(type.fromObject(fields)).finish();
}

const NODE = { id: 'envoy-1', cluster: 'c', metadata: { fields: { zone: { string_value: 'z' } } } };

test('a DiscoveryRequest decodes every field; its node stays bytes that decode to the node sent', () => {
  const bytes = encode('DiscoveryRequest', {
    version_info: 'v1', node: NODE, resource_names: ['a', 'b'], type_url: TypeUrl.Endpoint, response_nonce: '7',
    error_detail: { code: 3, message: 'bad' },
  });
  const decoded = decodeDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  assert.deepEqual(decoded.request, {
    version_info: 'v1', resource_names: ['a', 'b'], type_url: TypeUrl.Endpoint, response_nonce: '7', error_detail: { code: 3, message: 'bad' },
  });
  assert.ok(decoded.node instanceof Uint8Array);
  assert.equal(decodeNode(decoded.node).id, 'envoy-1');
});

test('a DeltaDiscoveryRequest decodes every field, initial versions left unread beside the request', () => {
  const bytes = encode('DeltaDiscoveryRequest', {
    node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*', 'a'], resource_names_unsubscribe: ['b'],
    initial_resource_versions: { a: 'h1', ['__proto__']: 'h2' }, response_nonce: '3',
  });
  const decoded = decodeDeltaDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  const { request } = decoded;
  assert.equal(request.type_url, TypeUrl.Cluster);
  assert.deepEqual(request.resource_names_subscribe, ['*', 'a']);
  assert.deepEqual(request.resource_names_unsubscribe, ['b']);
  assert.equal(request.response_nonce, '3');
  assert.deepEqual([...decoded.versionEntries!.read()].sort(), [['__proto__', 'h2'], ['a', 'h1']]);
  assert.deepEqual(request.initial_resource_versions, {}, 'the object form is filled only for callbacks');
  withInitialVersions(request, decoded.versionEntries!.read());
  assert.deepEqual(Object.entries(request.initial_resource_versions).sort(), [['__proto__', 'h2'], ['a', 'h1']], 'a name is only ever a key');
  assert.equal(decodeNode(decoded.node!).id, 'envoy-1');
});

test('unknown fields are skipped (resource locators, fields of a later API)', () => {
  const known = encode('DiscoveryRequest', { type_url: TypeUrl.Cluster, resource_names: ['a'] });
  // Field 99, length-delimited, three bytes: a field this decoder does not know.
  const bytes = Buffer.concat([Buffer.from(known), Buffer.from([0x9a, 0x06, 3, 1, 2, 3])]);
  const decoded = decodeDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  assert.deepEqual(decoded.request.resource_names, ['a']);
});

test('bytes that are not a request are an UndecodableRequest naming the message', () => {
  const truncated = encode('DeltaDiscoveryRequest', { type_url: TypeUrl.Cluster }).subarray(0, 5);
  const decoded = decodeDeltaDiscoveryRequest(truncated);
  assert.ok(decoded instanceof UndecodableRequest);
  assert.match(decoded.message, /cannot decode envoy\.service\.discovery\.v3\.DeltaDiscoveryRequest/);
  assert.ok(decodeDiscoveryRequest(Buffer.from([0x12, 0x50, 1])) instanceof UndecodableRequest, 'a node longer than the message');
});

test('the object form of initial versions is made on first read, once, and is a plain object', () => {
  const decoded = decodeDeltaDiscoveryRequest(encode('DeltaDiscoveryRequest', { type_url: TypeUrl.Cluster, initial_resource_versions: { a: 'h1', b: 'h2' } }));
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  const request = withInitialVersions(decoded.request, decoded.versionEntries!.read());
  assert.equal('value' in Object.getOwnPropertyDescriptor(request, 'initial_resource_versions')!, false, 'not made before it is read');
  const first = request.initial_resource_versions;
  assert.equal(request.initial_resource_versions, first, 'the same object on every read');
  assert.equal(Object.getPrototypeOf(first), Object.prototype);
  assert.deepEqual(JSON.parse(JSON.stringify(request)).initial_resource_versions, { a: 'h1', b: 'h2' });
  request.initial_resource_versions = { c: 'h3' };
  assert.deepEqual(request.initial_resource_versions, { c: 'h3' }, 'a callback may replace it');
});

test("readNodeId reads a node's id without decoding the rest", () => {
  const type = lookupType('envoy.config.core.v3.Node');
  const extensions = Array.from({ length: 500 }, (_, i) => ({ name: `envoy.filters.http.f${i}`, category: 'envoy.filters.http' }));
  assert.equal(readNodeId(type.encode(type.fromObject({ cluster: 'c', extensions, id: 'envoy-7' })).finish()), 'envoy-7');
  assert.equal(readNodeId(type.encode(type.fromObject({ cluster: 'c' })).finish()), '', 'no id');
  assert.throws(() => readNodeId(Buffer.from([0x0a, 0x50, 1])), 'an id longer than the node');
});

test('a malformed delta request of many version entries leaves no large buffer behind', async () => {
  // Two million empty initial_resource_versions entries, then a node field running past the end.
  const n = 2_000_000;
  const bytes = Buffer.alloc(2 * n + 2);
  for (let i = 0; i < n; i++) bytes[2 * i] = 42;
  bytes[2 * n] = 10;
  bytes[2 * n + 1] = 5;
  // A full collection on demand, also when the suite runs without --expose-gc.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().arrayBuffers;
  assert.ok(decodeDeltaDiscoveryRequest(bytes) instanceof UndecodableRequest);
  // A later request without versions: it does not shrink the buffer either, so what is kept is the failed one's.
  assert.ok(!(decodeDeltaDiscoveryRequest(Buffer.from([18, 1, 97])) instanceof UndecodableRequest));
  // Array buffers a collection frees leave the count a moment later.
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const kept = process.memoryUsage().arrayBuffers - before;
  assert.ok(kept < 4 * 1024 * 1024, `${(kept / 2 ** 20).toFixed(1)} MiB kept after the request`);
});
