// CSDS (envoy.service.status.v3.ClientStatusDiscoveryService) answered from the cache's status, asked by a
// gRPC client built from Envoy's csds.proto.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { decodeMessage, TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import type { Node } from '../../src/types/index.js';
import { csdsClient, unary } from '../support/grpc-clients.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { node, answer, sotw, watch } from '../cache/helpers.js';
import { assertCloseEndsClientStatusStreams } from './harness.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const cache = new SnapshotCache();
let xds: XdsServer;
let client: ReturnType<typeof csdsClient>;

const front = node('front-1', {
  cluster: 'edge',
  metadata: { zone: 'a', canary: true, weight: 3, tags: ['x', 'y'] },
  extensions: [{ name: 'envoy.filters.http.router', category: 'envoy.filters.http' }],
  client_features: ['envoy.lb.does_not_support_overprovisioning'],
});
const back = node('back-1', { cluster: 'core', metadata: { zone: 'b', canary: false } });

before(async () => {
  for (const n of [front, back]) {
    await cache.setSnapshot(n.id!, new Snapshot('1', { [C]: [cluster('a'), cluster('b')], [E]: [endpoints('a')] }));
    watch(cache, sotw(C, { node: n, wildcard: true }));
    watch(cache, answer(C, { node: n, wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  }
  // back-1 rejects its endpoints.
  watch(cache, sotw(E, { node: back, resourceNames: ['a'] }));
  watch(cache, answer(E, { node: back, resourceNames: ['a'], responseNonce: 'n2', errorDetail: { code: 13, message: 'endpoint a: bad port' }, rejectedVersion: '1' }));
  xds = createServer(cache, { csds: true });
  const port = await xds.listen('127.0.0.1:0');
  client = csdsClient(`127.0.0.1:${port}`);
});
after(async () => {
  client.close();
  await xds.close({ deadlineMs: 500 });
});

const ids = (response: any): string[] => (response.config ?? []).map((c: any) => c.node.id);
const configOf = (response: any, id: string): any[] => response.config.find((c: any) => c.node.id === id).generic_xds_configs;

test('FetchClientStatus with no matcher returns every client, with its node', async () => {
  const response = await unary(client, 'FetchClientStatus', {});
  assert.deepEqual(ids(response), ['back-1', 'front-1']);
  assert.equal(response.config[1].node.cluster, 'edge');
  assert.equal(response.config[1].node.metadata.fields.zone.stringValue, 'a');
});

test("the node is shown without its extensions and client features (most of Envoy's 62 KB node)", async () => {
  const response = await unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: 'front-1' } }] });
  assert.equal(response.config[0].node.extensions, undefined);
  assert.equal(response.config[0].node.client_features, undefined);
});

test('each resource of a type the client ACKed is ACKED and SYNCED, with its version and contents', async () => {
  const response = await unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: 'front-1' } }] });
  const configs = configOf(response, 'front-1');
  const clusters = configs.filter((c: any) => c.type_url === C);
  assert.deepEqual(clusters.map((c: any) => [c.name, c.version_info, c.client_status, c.config_status]), [
    ['a', '1', 'ACKED', 'SYNCED'],
    ['b', '1', 'ACKED', 'SYNCED'],
  ]);
  assert.equal(clusters[0].xds_config.type_url, C);
  assert.equal(decodeMessage(C, clusters[0].xds_config.value)['name'], 'a');
  assert.ok(clusters[0].last_updated, 'the time of the ACK');
  const eds = configs.filter((c: any) => c.type_url === E);
  assert.deepEqual(eds.map((c: any) => [c.name, c.client_status, c.config_status]), [['a', 'REQUESTED', 'NOT_SENT']], 'never asked for: not sent');
});

test("a rejected type is NACKED and ERROR, with Envoy's message and the rejected version in error_state", async () => {
  const response = await unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: 'back-1' } }] });
  const [eds] = configOf(response, 'back-1').filter((c: any) => c.type_url === E);
  assert.equal(eds.client_status, 'NACKED');
  assert.equal(eds.config_status, 'ERROR');
  assert.equal(eds.error_state.details, 'endpoint a: bad port');
  assert.equal(eds.error_state.version_info, '1');
  assert.ok(eds.error_state.last_update_attempt);
});

test('exclude_resource_contents leaves xds_config out', async () => {
  const response = await unary(client, 'FetchClientStatus', { exclude_resource_contents: true });
  for (const config of response.config) for (const c of config.generic_xds_configs) assert.equal(c.xds_config, undefined);
});

test('node matchers: node_id by prefix, suffix, contains, regex and ignore_case; matchers are ORed', async () => {
  const pick = async (node_matchers: object[]) => ids(await unary(client, 'FetchClientStatus', { node_matchers }));
  assert.deepEqual(await pick([{ node_id: { prefix: 'front' } }]), ['front-1']);
  assert.deepEqual(await pick([{ node_id: { suffix: '-1' } }]), ['back-1', 'front-1']);
  assert.deepEqual(await pick([{ node_id: { contains: 'ack' } }]), ['back-1']);
  assert.deepEqual(await pick([{ node_id: { safe_regex: { regex: 'f.*-[0-9]' } } }]), ['front-1']);
  assert.deepEqual(await pick([{ node_id: { safe_regex: { regex: 'front' } } }]), [], 'a regex matches the whole id');
  assert.deepEqual(await pick([{ node_id: { exact: 'FRONT-1', ignore_case: true } }]), ['front-1']);
  assert.deepEqual(await pick([{ node_id: { exact: 'front-1' } }, { node_id: { exact: 'back-1' } }]), ['back-1', 'front-1']);
  assert.deepEqual(await pick([{ node_id: { exact: 'nobody' } }]), []);
});

test('node matchers: node_metadatas by string, bool, double, presence and list; id and metadata are ANDed', async () => {
  const pick = async (node_matchers: object[]) => ids(await unary(client, 'FetchClientStatus', { node_matchers }));
  const md = (key: string, value: object) => ({ path: [{ key }], value });
  assert.deepEqual(await pick([{ node_metadatas: [md('zone', { string_match: { exact: 'b' } })] }]), ['back-1']);
  assert.deepEqual(await pick([{ node_metadatas: [md('canary', { bool_match: true })] }]), ['front-1']);
  assert.deepEqual(await pick([{ node_metadatas: [md('weight', { double_match: { range: { start: 2, end: 4 } } })] }]), ['front-1']);
  assert.deepEqual(await pick([{ node_metadatas: [md('weight', { present_match: true })] }]), ['front-1']);
  assert.deepEqual(await pick([{ node_metadatas: [md('tags', { list_match: { one_of: { string_match: { exact: 'y' } } } })] }]), ['front-1']);
  assert.deepEqual(await pick([{ node_id: { exact: 'front-1' }, node_metadatas: [md('zone', { string_match: { exact: 'b' } })] }]), []);
});

test('a matcher the server cannot use ends the call with INVALID_ARGUMENT saying why', async () => {
  await assert.rejects(unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { prefix: '' } }] }), (e: any) => {
    assert.equal(e.code, GrpcStatus.INVALID_ARGUMENT);
    assert.match(e.details, /node_matchers\[0\]\.node_id\.prefix must not be empty/);
    return true;
  });
  await assert.rejects(unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { safe_regex: { regex: '(a+)+' } } }] }), /nested quantifiers/);
  await assert.rejects(unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { safe_regex: { regex: '(' } } }] }), /not a valid regular expression/);
});

test('StreamClientStatus answers each request with a response', async () => {
  const call = client['StreamClientStatus']();
  const responses: any[] = [];
  const got = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (responses.length >= n ? resolve() : setTimeout(check, 5));
      check();
    });
  call.on('data', (r: any) => responses.push(r));
  call.write({ node_matchers: [{ node_id: { exact: 'front-1' } }] });
  await got(1);
  call.write({ node_matchers: [{ node_id: { exact: 'back-1' } }] });
  await got(2);
  call.end();
  assert.deepEqual(responses.map(ids), [['front-1'], ['back-1']]);
});

test('without the csds option the service is not served', async () => {
  const plain = createServer(cache);
  const port = await plain.listen('127.0.0.1:0');
  const c = csdsClient(`127.0.0.1:${port}`);
  try {
    await assert.rejects(unary(c, 'FetchClientStatus', {}), (e: any) => e.code === GrpcStatus.UNIMPLEMENTED);
  } finally {
    c.close();
    await plain.close({ deadlineMs: 500 });
  }
});

test('csds: true over a cache without a status is refused at creation, saying what to do', () => {
  const bare = { createWatch: () => () => undefined, createDeltaWatch: () => () => undefined, fetch: () => undefined };
  assert.throws(() => createServer(bare, { csds: true }), /csds: true needs a cache that keeps a status/);
});

test('close() ends open StreamClientStatus calls with UNAVAILABLE, so that shutdown does not wait for them', async () => {
  const own = createServer(cache, { csds: true });
  const port = await own.listen('127.0.0.1:0');
  await assertCloseEndsClientStatusStreams(own, port);
});

test("one client's node that cannot be read past its id fails no one's answer: it is shown by id and cluster", async () => {
  // A node whose other fields throw when read, as a lazily read node would whose bytes did not decode.
  const broken: Record<string, unknown> = { id: 'broken-1', cluster: 'odd' };
  Object.defineProperty(broken, 'metadata', { enumerable: true, get: () => { throw new Error('index out of range'); } });
  const own = new SnapshotCache();
  for (const n of [broken as Node, back]) {
    await own.setSnapshot(n.id!, new Snapshot('1', { [C]: [cluster('a')] }));
    watch(own, sotw(C, { node: n, wildcard: true }));
    watch(own, answer(C, { node: n, wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  }
  const server = createServer(own, { csds: true });
  const c = csdsClient(`127.0.0.1:${await server.listen('127.0.0.1:0')}`);
  try {
    const all = await unary(c, 'FetchClientStatus', {});
    assert.deepEqual(ids(all), ['back-1', 'broken-1']);
    assert.deepEqual({ id: all.config[1].node.id, cluster: all.config[1].node.cluster, metadata: all.config[1].node.metadata }, { id: 'broken-1', cluster: 'odd', metadata: undefined });
    assert.equal(configOf(all, 'broken-1')[0].client_status, 'ACKED');
    const byMetadata = await unary(c, 'FetchClientStatus', { node_matchers: [{ node_metadatas: [{ path: [{ key: 'zone' }], value: { string_match: { exact: 'b' } } }] }] });
    assert.deepEqual(ids(byMetadata), ['back-1'], 'a node whose metadata cannot be read matches no metadata matcher');
  } finally {
    c.close();
    await server.close({ deadlineMs: 500 });
  }
});
