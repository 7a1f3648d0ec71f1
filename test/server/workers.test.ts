// The worker mode: streams served by worker processes, the cache, the status and the callbacks in this one.
import assert from 'node:assert/strict';
import nodeCluster from 'node:cluster';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { EncodedResource, Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { Code, createServer, XdsError, type AckEvent, type NackEvent, type XdsServer } from '../../src/server/index.js';
import { csdsClient, unary } from '../support/grpc-clients.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient, type SotwStream } from '../support/xds-client.js';
import { eventually, workersAfterReplacing } from './harness.js';

const acks: AckEvent[] = [];
const nacks: NackEvent[] = [];
const opened: number[] = [];
const closed: number[] = [];
let cache: SnapshotCache;
let xds: XdsServer;
let address: string;
const clients: XdsTestClient[] = [];

function snapshot(version: string, upstreamPort = 8080): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Cluster]: [cluster('a'), cluster('b')],
    [TypeUrl.Endpoint]: [endpoints('a', 2, upstreamPort), endpoints('b', 2, upstreamPort)],
  });
}

/** A client on a connection of its own (one HTTP/2 connection goes to one worker). */
function connect(): XdsTestClient {
  const client = new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

before(async () => {
  cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot('node-0', snapshot('1'));
  xds = createServer(cache, {
    workers: 2,
    callbacks: {
      onAck: (e) => void acks.push(e),
      onNack: (e) => void nacks.push(e),
      onStreamOpen: (streamId, _typeUrl, context) => {
        opened.push(streamId);
        if (context.metadata?.get('x-deny')[0] === 'yes') throw new XdsError(Code.PERMISSION_DENIED, 'denied by the test');
      },
      onStreamClosed: (streamId) => void closed.push(streamId),
    },
  });
  address = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
});
after(async () => {
  for (const client of clients) client.close();
  await xds.close({ deadlineMs: 500 });
  cache.close();
});

async function subscribeClusters(node: string): Promise<{ stream: SotwStream; version: string }> {
  const stream = connect().sotw();
  stream.send({ node: { id: node }, type_url: TypeUrl.Cluster });
  const response = await stream.next(5000);
  stream.ack(response);
  return { stream, version: response.version_info };
}

test('streams on different connections are spread over the workers', async () => {
  const nodes = Array.from({ length: 8 }, (_, i) => `node-${i}`);
  for (const node of nodes) await cache.setSnapshot(node, snapshot('1'));
  const streams = await Promise.all(nodes.map(subscribeClusters));
  assert.deepEqual(streams.map((s) => s.version), nodes.map(() => '1'));
  await eventually(() => xds.stats().streams === 8, 5000, 'eight streams reported');
  const workers = await xds.workers();
  assert.equal(workers.length, 2);
  assert.ok(workers.every((w) => w.stats.streams > 0), `each worker serves streams: ${workers.map((w) => w.stats.streams).join(', ')}`);
  for (const { stream } of streams) stream.end();
  await eventually(() => xds.stats().streams === 0, 5000, 'streams closed');
});

test('a resource is encoded once, in this process; the workers encode none', async () => {
  const before = EncodedResource.encodeCount;
  const next = snapshot('enc', 9999);
  assert.equal(EncodedResource.encodeCount - before, 4, 'four resources, four encodes');
  for (let i = 0; i < 8; i++) await cache.setSnapshot(`node-${i}`, next);
  const { stream, version } = await subscribeClusters('node-3');
  assert.equal(version, 'enc');
  stream.end();
  assert.equal(EncodedResource.encodeCount - before, 4, 'setting it for eight keys encodes nothing more');
  const workers = await xds.workers();
  assert.deepEqual(workers.map((w) => w.encodeCount), [0, 0]);
});

test('setSnapshot resolves once every worker has answered the watches it changes', async () => {
  await cache.setSnapshot('node-w', snapshot('1'));
  const { stream } = await subscribeClusters('node-w');
  await cache.setSnapshot('node-w', snapshot('2', 8081));
  const response = await stream.next(5000);
  assert.equal(response.version_info, '2');
  stream.end();
});

test('a NACK is reported once, in this process: one onNack, and in the cache status', async () => {
  nacks.length = 0;
  await cache.setSnapshot('node-n', snapshot('1'));
  const stream = connect().sotw();
  stream.send({ node: { id: 'node-n' }, type_url: TypeUrl.Cluster });
  const first = await stream.next(5000);
  stream.ack(first);
  await cache.setSnapshot('node-n', snapshot('2', 8082));
  const second = await stream.next(5000);
  stream.nack(second, 'cluster b: bad thing', '1');
  await eventually(() => nacks.length > 0, 5000, 'onNack');
  await stream.nothingWithin(300);
  assert.equal(nacks.length, 1);
  assert.equal(nacks[0].rejectedVersion, '2');
  assert.equal(nacks[0].nodeId, 'node-n');
  assert.equal(nacks[0].errorDetail.message, 'cluster b: bad thing');
  const status = cache.getStatusInfo('node-n')!.types.get(TypeUrl.Cluster)!;
  assert.equal(status.lastNack?.version, '2');
  assert.equal(status.lastAckedVersion, '1');
  assert.equal(status.lastSentVersion, '2');
  assert.ok(acks.some((a) => a.nodeId === 'node-n' && a.version === '1'));
  stream.end();
});

test('a delta NACK is reported once, in this process, and the rejected resources are not sent again', async () => {
  nacks.length = 0;
  await cache.setSnapshot('node-d', snapshot('1'));
  const stream = connect().delta();
  stream.send({ node: { id: 'node-d' }, type_url: TypeUrl.Cluster });
  const first = await stream.next(5000);
  stream.ack(first);
  await cache.setSnapshot('node-d', new Snapshot('2', { [TypeUrl.Cluster]: [cluster('a'), cluster('b', { connect_timeout: '7s' })] }));
  const second = await stream.next(5000);
  stream.nack(second, 'cluster b: rejected');
  await eventually(() => nacks.length > 0, 5000, 'onNack');
  await stream.nothingWithin(300);
  assert.equal(nacks.length, 1);
  assert.equal(nacks[0].delta, true);
  assert.equal(cache.getStatusInfo('node-d')!.types.get(TypeUrl.Cluster)!.lastNack?.message, 'cluster b: rejected');
  stream.end();
});

test('the node in verdicts is the node the client sent, every field of it', async () => {
  await cache.setSnapshot('node-f', snapshot('1'));
  const stream = connect().sotw();
  const node = { id: 'node-f', cluster: 'edge', user_agent_name: 'envoy', metadata: { zone: 'z1' }, client_features: ['envoy.lb.does_not_support_overprovisioning'] };
  stream.send({ node, type_url: TypeUrl.Cluster });
  stream.ack(await stream.next(5000));
  await eventually(() => acks.some((a) => a.nodeId === 'node-f'), 5000, 'onAck');
  const ack = acks.find((a) => a.nodeId === 'node-f')!;
  assert.equal(ack.node.cluster, 'edge');
  assert.equal(ack.node.user_agent_name, 'envoy');
  assert.deepEqual(ack.node.metadata, { zone: 'z1' });
  assert.deepEqual(ack.node.client_features, node.client_features);
  stream.end();
});

test('a key\'s snapshots go only to the worker holding a stream of it, which is given the current one when the stream opens', async () => {
  await eventually(() => xds.stats().streams === 0, 5000, 'the earlier streams closed');
  const held = async (): Promise<number> => (await xds.workers()).reduce((sum, w) => sum + w.snapshots, 0);
  const before = await held();
  await cache.setSnapshot('node-t', snapshot('t1', 7001));
  assert.equal(await held(), before, 'no worker holds a stream of the key: none is sent its snapshot');
  const { stream, version } = await subscribeClusters('node-t');
  assert.equal(version, 't1', 'the worker the stream opened in is given the current snapshot');
  assert.equal(await held(), before + 1, 'one worker holds it');
  await cache.setSnapshot('node-t', snapshot('t2', 7002));
  assert.equal((await stream.next(5000)).version_info, 't2');
  assert.equal(await held(), before + 1, 'the new snapshot replaced the old one, in that one worker');
  stream.end();
  const deadline = Date.now() + 5000;
  while ((await held()) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await held(), before, 'the worker drops the snapshot once the key\'s last stream there closed');
  await cache.setSnapshot('node-t', snapshot('t3', 7003));
  const again = await subscribeClusters('node-t');
  assert.equal(again.version, 't3', 'a stream opened later is given the current snapshot');
  again.stream.end();
  // Its close is reported within 100 ms: the next test counts closes.
  await eventually(() => xds.stats().streams === 0, 5000, 'the stream closed');
});

test('the worker mode refuses what it cannot do, saying why', () => {
  assert.throws(() => createServer(cache, { workers: 0 }), /workers must be a positive integer/);
  assert.throws(() => createServer(cache, { workers: 2, callbacks: { onStreamRequest: () => undefined } }), /onStreamRequest are not available in the worker mode/);
  assert.throws(() => createServer(new SnapshotCache({ hash: (n) => n.cluster ?? '' }), { workers: 2 }), /own hash function.*hashModule/);
});

test('without the csds option the workers do not serve CSDS', async () => {
  const client = csdsClient(address, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await assert.rejects(unary(client, 'FetchClientStatus', {}), (e: { code: number }) => e.code === Code.UNIMPLEMENTED);
  } finally {
    client.close();
  }
});

test('a second worker-mode server of this process on the same host:0 is refused: cluster would give it the same port', async () => {
  const other = createServer(cache, { workers: 1 });
  await assert.rejects(other.listen('127.0.0.1:0'), /another worker-mode server of this process listens on 127\.0\.0\.1:0: node:cluster would give this one the same port/);
  await other.close({ deadlineMs: 500 });
});

test('a listen that fails in a worker (the port taken) rejects and stops every worker it started', async () => {
  const taken = createNetServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  const before = Object.keys(nodeCluster.workers ?? {}).length;
  const other = createServer(cache, { workers: 2 });
  try {
    await assert.rejects(other.listen(`127.0.0.1:${port}`), /an xDS worker could not listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await eventually(() => Object.keys(nodeCluster.workers ?? {}).length === before, 5000, 'the started workers to exit');
    assert.deepEqual(await other.workers(), []);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('an onStreamOpen that throws ends the stream in the worker with its status', async () => {
  const { Metadata } = await import('@grpc/grpc-js');
  const metadata = new Metadata();
  metadata.set('x-deny', 'yes');
  const stream = connect().sotw({}, metadata);
  stream.send({ node: { id: 'node-0' }, type_url: TypeUrl.Cluster });
  await assert.rejects(stream.next(5000), /PERMISSION_DENIED denied by the test/);
});

test('a killed worker is replaced; its clients reconnect and are served', async () => {
  await cache.setSnapshot('node-k', snapshot('1'));
  const before = await xds.workers();
  const streams = await Promise.all(['node-k', 'node-k', 'node-k', 'node-k'].map(subscribeClusters));
  await eventually(() => xds.stats().streams >= 4 && cache.getStatusInfo('node-k')?.openStreams === 4, 5000, 'streams reported');
  const busy = (await xds.workers()).find((w) => w.stats.streams > 0)!;
  closed.length = 0;
  process.kill(busy.pid, 'SIGKILL');
  await eventually(() => closed.length > 0, 5000, 'the dead worker\'s streams closed in the callbacks');
  assert.equal(cache.getStatusInfo('node-k')?.openStreams ?? 0, streams.length - closed.length, 'the status counts only the living streams');
  const replaced = await workersAfterReplacing(xds, busy.pid, 2);
  assert.equal(replaced.length, 2, 'two workers again');
  assert.ok(!replaced.includes(busy.pid) && replaced.some((pid) => before.some((w) => w.pid === pid)), 'the killed one was replaced');
  // A client of the dead worker reconnects (a new stream) and is served the current snapshot.
  const again = await subscribeClusters('node-k');
  assert.equal(again.version, '1');
  await cache.setSnapshot('node-k', snapshot('3', 8083));
  assert.equal((await again.stream.next(5000)).version_info, '3');
  for (const { stream } of [...streams, again]) stream.end();
});
