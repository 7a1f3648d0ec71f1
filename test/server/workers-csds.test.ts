// CSDS in the worker mode: a worker holds the call, the primary (this process) answers from the cache's status,
// and the answer is the one a server without workers gives from the same status.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { csdsClient, unary } from '../support/grpc-clients.js';
import { freePort } from '../support/ports.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient, type SotwStream } from '../support/xds-client.js';
import { assertCloseEndsClientStatusStreams, eventually } from './harness.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const cache = new SnapshotCache({ ads: true });
let xds: XdsServer;
let oneProcess: XdsServer;
let address: string;
let reference: ReturnType<typeof csdsClient>;
const csdsClients: ReturnType<typeof csdsClient>[] = [];
const xdsClients: XdsTestClient[] = [];
const streams = new Map<string, SotwStream>();

const front = {
  id: 'front-1',
  cluster: 'edge',
  metadata: { zone: 'a' },
  extensions: [{ name: 'envoy.filters.http.router', category: 'envoy.filters.http' }],
  client_features: ['envoy.lb.does_not_support_overprovisioning'],
};
const back = { id: 'back-1', cluster: 'core', metadata: { zone: 'b' } };

/** A CSDS client on a connection of its own (one connection goes to one worker). */
function csds(): ReturnType<typeof csdsClient> {
  const client = csdsClient(address, { 'grpc.use_local_subchannel_pool': 1 });
  csdsClients.push(client);
  return client;
}

function xdsStream(): SotwStream {
  const client = new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  xdsClients.push(client);
  return client.sotw();
}

const ids = (response: any): string[] => (response.config ?? []).map((c: any) => c.node.id);
const configOf = (response: any, id: string): any[] => response.config.find((c: any) => c.node.id === id).generic_xds_configs;

before(async () => {
  for (const id of [front.id, back.id]) await cache.setSnapshot(id, new Snapshot('1', { [C]: [cluster('a'), cluster('b')], [E]: [endpoints('a')] }));
  xds = createServer(cache, { workers: 2, csds: true });
  address = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
  oneProcess = createServer(cache, { csds: true });
  reference = csdsClient(`127.0.0.1:${await oneProcess.listen('127.0.0.1:0')}`);
  // Both ACK their clusters through the workers; back-1 rejects its endpoints.
  for (const node of [front, back]) {
    const stream = xdsStream();
    streams.set(node.id, stream);
    stream.send({ node, type_url: C });
    stream.ack(await stream.next(5000));
  }
  const stream = streams.get(back.id)!;
  stream.send({ type_url: E, resource_names: ['a'] });
  stream.nack(await stream.next(5000), 'endpoint a: bad port', '', ['a']);
  await eventually(() => cache.getStatusInfo(back.id)?.types.get(E)?.lastNack !== undefined, 5000, 'the NACK reported to this process');
  await eventually(() => cache.getStatusInfo(front.id)?.types.get(C)?.lastAckedVersion === '1', 5000, 'the ACK reported to this process');
});
after(async () => {
  for (const client of [...csdsClients, reference]) client.close();
  for (const client of xdsClients) client.close();
  await Promise.all([xds.close({ deadlineMs: 500 }), oneProcess.close({ deadlineMs: 500 })]);
  cache.close();
});

test('FetchClientStatus served by a worker answers what a server without workers answers from the same status', async () => {
  const client = csds();
  for (const request of [{}, { node_matchers: [{ node_id: { exact: 'front-1' } }] }, { exclude_resource_contents: true }]) {
    assert.deepEqual(await unary(client, 'FetchClientStatus', request), await unary(reference, 'FetchClientStatus', request), JSON.stringify(request));
  }
});

test("the answer holds every client's ACKs and NACKs that the workers reported, and its node without extensions", async () => {
  const response = await unary(csds(), 'FetchClientStatus', {});
  assert.deepEqual(ids(response), ['back-1', 'front-1']);
  const shown = response.config[1].node;
  assert.equal(shown.cluster, 'edge');
  assert.equal(shown.metadata.fields.zone.stringValue, 'a');
  assert.equal(shown.extensions, undefined);
  assert.equal(shown.client_features, undefined);
  const clusters = configOf(response, 'front-1').filter((c: any) => c.type_url === C);
  assert.deepEqual(clusters.map((c: any) => [c.name, c.version_info, c.client_status, c.config_status]), [
    ['a', '1', 'ACKED', 'SYNCED'],
    ['b', '1', 'ACKED', 'SYNCED'],
  ]);
  const [eds] = configOf(response, 'back-1').filter((c: any) => c.type_url === E);
  assert.deepEqual([eds.client_status, eds.config_status, eds.error_state.details, eds.error_state.version_info], ['NACKED', 'ERROR', 'endpoint a: bad port', '1']);
});

test('every connection is answered, whichever worker holds it', async () => {
  const expected = await unary(reference, 'FetchClientStatus', { exclude_resource_contents: true });
  const answers = await Promise.all(Array.from({ length: 6 }, () => unary(csds(), 'FetchClientStatus', { exclude_resource_contents: true })));
  for (const answer of answers) assert.deepEqual(answer, expected);
});

test('a matcher the server cannot use ends the call with INVALID_ARGUMENT saying why, as without workers', async () => {
  const client = csds();
  const bad = { node_matchers: [{ node_id: { prefix: '' } }] };
  const [viaWorker, direct]: any[] = await Promise.all([unary(client, 'FetchClientStatus', bad).catch((e: unknown) => e), unary(reference, 'FetchClientStatus', bad).catch((e: unknown) => e)]);
  assert.equal(viaWorker.code, GrpcStatus.INVALID_ARGUMENT);
  assert.equal(viaWorker.details, direct.details);
  assert.match(viaWorker.details, /node_matchers\[0\]\.node_id\.prefix must not be empty/);
  await assert.rejects(unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { safe_regex: { regex: '(a+)+' } } }] }), /nested quantifiers/);
});

test('StreamClientStatus answers each request with a response, in the order asked', async () => {
  const call = csds()['StreamClientStatus']();
  const responses: any[] = [];
  call.on('data', (r: any) => responses.push(r));
  const ended = new Promise<void>((resolve, reject) => {
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (const id of ['front-1', 'back-1', 'nobody', 'front-1']) call.write({ node_matchers: [{ node_id: { exact: id } }], exclude_resource_contents: true });
  call.end();
  await ended;
  assert.deepEqual(responses.map(ids), [['front-1'], ['back-1'], [], ['front-1']]);
});

test('a StreamClientStatus request the server cannot use ends the stream with INVALID_ARGUMENT', async () => {
  const call = csds()['StreamClientStatus']();
  call.on('data', () => undefined);
  const status = new Promise<any>((resolve) => call.on('error', resolve));
  call.write({ node_matchers: [{ node_id: { safe_regex: { regex: '(' } } }] });
  const error = await status;
  assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT);
  assert.match(error.details, /not a valid regular expression/);
});

test('a verdict reaches CSDS once its worker reports it (within about 100 ms)', async () => {
  const client = csds();
  await cache.setSnapshot(front.id, new Snapshot('2', { [C]: [cluster('a'), cluster('b', { connect_timeout: '9s' })], [E]: [endpoints('a')] }));
  const stream = streams.get(front.id)!;
  const rejectedAt = Date.now();
  stream.nack(await stream.next(5000), 'cluster b: rejected', '1');
  let seen: any;
  while (Date.now() - rejectedAt < 5000) {
    const response = await unary(client, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: 'front-1' } }], exclude_resource_contents: true });
    seen = configOf(response, 'front-1').find((c: any) => c.type_url === C && c.name === 'b');
    if (seen.client_status === 'NACKED') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual([seen.client_status, seen.config_status, seen.error_state?.details], ['NACKED', 'ERROR', 'cluster b: rejected']);
  assert.ok(Date.now() - rejectedAt < 2000, `seen ${Date.now() - rejectedAt} ms after the NACK`);
});

test('close() ends open StreamClientStatus calls with UNAVAILABLE, so that shutdown does not wait for them', async () => {
  const own = createServer(cache, { workers: 1, csds: true });
  // Not port 0: the cluster would give this server's worker the socket of the other server's workers.
  const port = await own.listen(`127.0.0.1:${await freePort()}`);
  await assertCloseEndsClientStatusStreams(own, port);
});
