// The server's limits on streams and messages: each refusal is RESOURCE_EXHAUSTED naming the limit and its option,
// and costs nothing once refused; other clients carry on.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { TypeUrl } from '../../src/resource/index.js';
import { DEFAULTS } from '../../src/server/index.js';
import { cluster } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness | undefined;
const extraClients: XdsTestClient[] = [];
afterEach(async () => {
  for (const client of extraClients.splice(0)) client.close();
  await h?.stop();
});

function newClient(harness: Harness): XdsTestClient {
  // A distinct channel option keeps grpc-js from sharing one connection between clients.
  const client = new XdsTestClient(`127.0.0.1:${harness.port}`, undefined, { 'test.connection': extraClients.length + 1 });
  extraClients.push(client);
  return client;
}

/** Opens a CDS stream for `nodeId` on `client` and waits for its first response. */
async function served(client: XdsTestClient, nodeId: string) {
  const s = client.sotw();
  s.send({ node: { id: nodeId }, type_url: TypeUrl.Cluster });
  await s.next(5000);
  return s;
}

test('the defaults fit a fleet of thousands of Envoys, one ADS stream each', () => {
  assert.ok(DEFAULTS.maxConnections >= 5000);
  assert.ok(DEFAULTS.maxStreamsPerConnection >= 1 && DEFAULTS.maxStreamsPerConnection <= DEFAULTS.maxConcurrentStreams);
  assert.ok(DEFAULTS.maxStreamsPerNode === false || DEFAULTS.maxStreamsPerNode >= 2, 'an Envoy reconnecting overlaps its old stream');
  assert.ok(DEFAULTS.newStreamRate.burst >= 1000 && DEFAULTS.newStreamRate.perSecond >= 100);
});

test('a connection beyond maxConnections gets RESOURCE_EXHAUSTED naming the option; a freed slot is reused', async () => {
  h = await startHarness({ maxConnections: 2 });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const a = await served(newClient(h), 'a');
  await served(newClient(h), 'b');
  assert.equal(h.xds.stats().connections, 2);
  const third = newClient(h);
  const refused = third.sotw();
  refused.send({ node: { id: 'c' }, type_url: TypeUrl.Cluster });
  const st = await refused.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /2 connections.*maxConnections is 2/);
  a.cancel();
  await eventually(() => h!.xds.stats().connections === 1);
  await served(third, 'c');
});

test('a stream beyond maxStreamsPerConnection gets RESOURCE_EXHAUSTED; other connections are not affected', async () => {
  h = await startHarness({ maxStreamsPerConnection: 2 });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const client = newClient(h);
  await served(client, 'a');
  await served(client, 'b');
  const refused = client.delta();
  const st = await refused.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /this connection has 2 xDS streams open.*maxStreamsPerConnection is 2/);
  await served(newClient(h), 'c');
  assert.equal(h.xds.stats().streams, 3);
});

test('a stream beyond maxStreamsPerNode is refused at its first request; other nodes are not affected', async () => {
  h = await startHarness({ maxStreamsPerNode: 2 });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const first = await served(h.client, 'same');
  await served(newClient(h), 'same');
  const refused = newClient(h).sotw();
  refused.send({ node: { id: 'same' }, type_url: TypeUrl.Cluster });
  const st = await refused.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /node "same" already has 2 xDS streams open.*maxStreamsPerNode is 2/);
  await served(h.client, 'other');
  first.cancel();
  await eventually(() => h!.xds.stats().streams === 3);
  await served(newClient(h), 'same');
  assert.equal(h.cache.nodes.get('same'), 2, 'the refused stream was never announced to the cache');
});

test('new streams beyond newStreamRate are refused with RESOURCE_EXHAUSTED; open streams keep working', async () => {
  h = await startHarness({ newStreamRate: { perSecond: 1, burst: 3 } });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const open = [];
  for (let i = 0; i < 3; i++) open.push(await served(h.client, `n${i}`));
  const refused = h.client.sotw();
  const st = await refused.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /too many new xDS streams.*1 per second.*newStreamRate/);
  h.cache.set(TypeUrl.Cluster, 'v2', [cluster('c'), cluster('d')]);
  const [s] = open;
  const first = s.received[0];
  s.ack(first);
  assert.equal((await s.next(5000)).version_info, 'v2');
});

test('a message over maxReceiveMessageLength ends that stream with RESOURCE_EXHAUSTED; the connection carries on', async () => {
  h = await startHarness({ maxReceiveMessageLength: 64 * 1024 });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const big = h.client.sotw();
  big.send({ node: { id: 'big', cluster: 'x'.repeat(100 * 1024) }, type_url: TypeUrl.Cluster });
  const st = await big.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /larger than max/);
  await served(h.client, 'small');
});

test('limits set to false are off', async () => {
  h = await startHarness({ maxConnections: false, maxStreamsPerConnection: false, maxStreamsPerNode: false, newStreamRate: false });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c')]);
  const streams = [];
  for (let i = 0; i < 120; i++) {
    const s = h.client.sotw();
    s.send({ node: { id: 'shared' }, type_url: TypeUrl.Cluster });
    streams.push(s);
  }
  await Promise.all(streams.map((s) => s.next(10_000)));
  assert.equal(h.xds.stats().streams, 120);
});

test('limit options are checked: zero or negative is an error naming the option', async () => {
  const { createServer } = await import('../../src/server/index.js');
  const { FakeCache } = await import('./fake-cache.js');
  assert.throws(() => createServer(new FakeCache(), { maxStreamsPerNode: 0 }), /maxStreamsPerNode must be a positive number/);
  assert.throws(() => createServer(new FakeCache(), { newStreamRate: { perSecond: -1, burst: 1 } }), /newStreamRate\.perSecond/);
});
