// A stream's node read lazily: id and cluster at once, the rest decoded on first read, equal to the decoded node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lookupType } from '../../src/resource/index.js';
import { lazyNode, nodeBytes } from '../../src/server/lazy-node.js';
import { decodeNode, nodeToJson } from '../../src/server/messages.js';

const NODE_TYPE = lookupType('envoy.config.core.v3.Node');

function encodeNode(fields: Record<string, unknown>): Uint8Array {
  return NODE_TYPE.encode(NODE_TYPE.fromObject(fields)).finish();
}

const ENVOY_LIKE = encodeNode({
  id: 'envoy-1',
  cluster: 'fleet',
  userAgentName: 'envoy',
  userAgentBuildVersion: { version: { majorNumber: 1, minorNumber: 40 }, metadata: { fields: { 'build.type': { stringValue: 'RELEASE' } } } },
  metadata: { fields: { zone: { stringValue: 'z' }, nested: { structValue: { fields: { depth: { numberValue: 2 } } } } } },
  extensions: Array.from({ length: 20 }, (_, i) => ({ name: `envoy.ext.${i}`, category: 'envoy.filters', typeUrls: [`type.googleapis.com/x.Config${i}`] })),
  clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
  dynamicParameters: { [`type.googleapis.com/x`]: { params: { region: 'eu' } } },
});

/** True when the property is an accessor (not yet decoded), not a value. */
function isAccessor(object: object, name: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(object, name);
  return descriptor !== undefined && !('value' in descriptor);
}

test('a lazily read node equals the node decoded at once, field for field and in JSON', () => {
  const eager = nodeToJson(decodeNode(ENVOY_LIKE));
  assert.deepEqual({ ...lazyNode(ENVOY_LIKE) }, eager);
  assert.equal(JSON.stringify(lazyNode(ENVOY_LIKE)), JSON.stringify(eager));
  assert.deepEqual(Object.keys(lazyNode(ENVOY_LIKE)), Object.keys(eager));
});

test('a lazily read node has its id and cluster as plain properties, the other fields as accessors until read', () => {
  const node = lazyNode(ENVOY_LIKE);
  assert.equal(Object.getOwnPropertyDescriptor(node, 'id')?.value, 'envoy-1');
  assert.equal(Object.getOwnPropertyDescriptor(node, 'cluster')?.value, 'fleet');
  assert.ok(isAccessor(node, 'extensions'));
  assert.equal(node.extensions?.length, 20);
  assert.ok(!isAccessor(node, 'metadata'), 'one read decodes every field');
  assert.deepEqual(node.metadata, { zone: 'z', nested: { depth: 2 } });
});

test('a field of a lazily read node can be replaced before and after the node is decoded', () => {
  const node = lazyNode(ENVOY_LIKE);
  node.user_agent_name = 'custom';
  assert.equal(node.user_agent_name, 'custom');
  assert.equal(node.extensions?.length, 20);
  node.extensions = [];
  assert.deepEqual(node.extensions, []);
});

test('a node of only an id has no accessors', () => {
  const node = lazyNode(encodeNode({ id: 'only' }));
  assert.deepEqual(Object.getOwnPropertyNames(node), ['id']);
});

test('bytes that are not a well-formed node are refused at once, not when a field is read', () => {
  const cases: [string, Uint8Array][] = [
    ['a field longer than the node', Buffer.from([0x4a, 0x50, 1])],
    ['a wire type that does not exist', Buffer.from([0x37, 1])],
    ['an id that is not UTF-8', Buffer.from([0x0a, 2, 0xc3, 0x28])],
    ['an extension name that is not UTF-8', Buffer.from([0x4a, 4, 0x0a, 2, 0xff, 0xfe])],
    ['a field number 0', Buffer.from([0x4a, 2, 0x00, 0x01])],
    ['a nested length past its message', Buffer.from([0x4a, 3, 0x0a, 9, 0x41])],
    // A dynamic_parameters entry (field 12) of 5 bytes whose unknown field 3 claims the next 5 bytes of the node.
    ['a map entry whose field runs past the entry', Buffer.from([0x0a, 1, 0x61, 0x62, 5, 0x0a, 1, 0x6b, 0x1a, 5, 0x32, 3, 0x61, 0x62, 0x63])],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => lazyNode(bytes), what);
    assert.throws(() => decodeNode(bytes), `the decoder refuses ${what} too`);
  }
});

/**
 * Reads `rounds` copies of `valid`, each with one byte set at random (a fixed sequence from `seed`): whatever the
 * lazy reader accepts must decode without error. Returns how many it refused.
 */
function assertCorruptionsDecode(valid: Uint8Array, rounds: number, seed: number): number {
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let refused = 0;
  for (let round = 0; round < rounds; round++) {
    const bytes = Buffer.from(valid);
    bytes[random(bytes.length)] = random(256);
    let node;
    try {
      node = lazyNode(bytes);
    } catch {
      refused++;
      continue;
    }
    assert.doesNotThrow(() => JSON.stringify(node), `corruption ${round}`);
  }
  return refused;
}

test('every node the lazy reader accepts decodes without error when read', () => {
  // Single-byte corruptions of a real-sized node: whatever passes the check must decode.
  assertCorruptionsDecode(ENVOY_LIKE, 3000, 7);
});

test('a lazily read node keeps its own copy of its bytes: a receive buffer reused afterwards does not change it', () => {
  // The bytes arrive as a view into a larger receive buffer (a Buffer, whose slice is a view too).
  const received = Buffer.alloc(ENVOY_LIKE.length + 64);
  Buffer.from(ENVOY_LIKE).copy(received, 32);
  const node = lazyNode(received.subarray(32, 32 + ENVOY_LIKE.length));
  received.fill(0);
  assert.deepEqual({ ...node }, nodeToJson(decodeNode(ENVOY_LIKE)));
});

test('the bytes a lazily read node keeps are the node\'s alone, not the buffer they arrived in', () => {
  const received = Buffer.alloc(ENVOY_LIKE.length + 4096);
  Buffer.from(ENVOY_LIKE).copy(received, 100);
  const kept = nodeBytes(lazyNode(received.subarray(100, 100 + ENVOY_LIKE.length)));
  assert.ok(kept !== undefined);
  assert.equal(kept.buffer.byteLength, ENVOY_LIKE.length);
  assert.deepEqual(Buffer.from(kept), Buffer.from(ENVOY_LIKE));
});

test('a lazily read node gives its bytes until it is decoded, and a node of only an id none', () => {
  const node = lazyNode(ENVOY_LIKE);
  assert.ok(nodeBytes(node) !== undefined);
  assert.equal(Object.getOwnPropertySymbols({ ...node }).length, 0, 'the bytes are not an enumerable field');
  void node.extensions;
  assert.equal(nodeBytes(node), undefined);
  assert.equal(nodeBytes(lazyNode(encodeNode({ id: 'only' }))), undefined);
  assert.equal(nodeBytes({ id: 'plain' }), undefined);
});

// A node with Envoy's shape: hundreds of extensions, a run of field 9 longer than the few KB the reader remembers.
const MANY_EXTENSIONS = Array.from({ length: 300 }, (_, i) => ({ name: `envoy.filters.http.ext_${i}`, category: 'envoy.filters.http', typeUrls: [`type.googleapis.com/envoy.extensions.Config${i}`] }));

test('a long run of extensions checked once is known by its bytes: another node with the same run reads alike', () => {
  const one = encodeNode({ id: 'envoy-1', cluster: 'c', extensions: MANY_EXTENSIONS });
  const two = encodeNode({ id: 'envoy-2', cluster: 'c', userAgentName: 'envoy', extensions: MANY_EXTENSIONS });
  for (const bytes of [one, two, one]) {
    const node = lazyNode(bytes);
    assert.ok(isAccessor(node, 'extensions'));
    assert.deepEqual({ ...node }, nodeToJson(decodeNode(bytes)));
  }
});

test('a long run that differs from the one checked before in any byte is checked: what passes decodes', () => {
  const valid = encodeNode({ id: 'envoy-1', extensions: MANY_EXTENSIONS });
  lazyNode(valid);
  assert.ok(assertCorruptionsDecode(valid, 2000, 11) > 0, 'some corruptions are refused');
  // Not UTF-8 in the last extension's name: same length as the valid run, refused although a run of that length
  // was checked before.
  const bad = Buffer.from(valid);
  const at = bad.lastIndexOf(Buffer.from('ext_299'));
  bad[at] = 0xff;
  assert.throws(() => lazyNode(bad), /not valid UTF-8/);
});

test("real Envoy 1.40's node reads as the decoder reads it, the second time from its remembered extensions too", () => {
  const bytes = readFileSync(new URL('../../bench/fleet/fixtures/envoy-1.40/node.bin', import.meta.url));
  const eager = nodeToJson(decodeNode(bytes));
  assert.equal(eager.extensions?.length, 516);
  for (let i = 0; i < 2; i++) assert.deepEqual({ ...lazyNode(bytes) }, eager);
});

test('a node of many short runs is read in time linear in its size (thousands of empty unknown fields, a long known run)', () => {
  // 32,000 empty occurrences of field 15 (unknown to Node), after an id: 64 KB.
  const unknown = Buffer.concat([Buffer.from([0x0a, 1, 0x41]), Buffer.alloc(64_000, Buffer.from([0x7a, 0]))]);
  // Over 1 MiB of client_features (field 10), too long to be remembered: checked in one walk.
  const feature = Buffer.concat([Buffer.from([0x52, 30]), Buffer.alloc(30, 0x61)]);
  const known = Buffer.concat(Array.from({ length: 34_000 }, () => feature));
  for (const [what, bytes, limitMs] of [['unknown fields', unknown, 250], ['a long known run', known, 1000]] as const) {
    const start = performance.now();
    const node = lazyNode(bytes);
    const ms = performance.now() - start;
    assert.ok(ms < limitMs, `${what}: ${ms.toFixed(0)} ms`);
    assert.ok(node !== undefined);
  }
});
