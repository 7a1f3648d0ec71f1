// Bad input and abuse end the offending stream with a clear status; the server and other streams carry on.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { TypeUrl } from '../../src/resource/index.js';
import { cluster } from '../support/sample-resources.js';
import { eventually, NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.stop());

/** A healthy stream on the same server still gets answers. */
async function othersCarryOn(harness: Harness): Promise<void> {
  const version = `ok-${Date.now()}`;
  harness.cache.set(TypeUrl.Cluster, version, [cluster('healthy')]);
  const s = harness.client.sotw();
  s.send({ node: { id: 'healthy-node' }, type_url: TypeUrl.Cluster });
  assert.equal((await s.next()).version_info, version);
  s.cancel();
}

test('undecodable request bytes end the stream with INVALID_ARGUMENT saying why', async () => {
  h = await startHarness();
  const s = h.client.sotw();
  s.send(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff]));
  const st = await s.status;
  assert.equal(st.code, Status.INVALID_ARGUMENT);
  assert.match(st.details, /cannot decode envoy\.service\.discovery\.v3\.DiscoveryRequest/);
  const d = h.client.delta();
  d.send(Buffer.from([0x12, 0x05, 0x01]));
  assert.equal((await d.status).code, Status.INVALID_ARGUMENT);
  await othersCarryOn(h);
});

test('a request naming more resources than allowed ends the stream with RESOURCE_EXHAUSTED', async () => {
  h = await startHarness({ maxResourceNames: 100 });
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: Array.from({ length: 101 }, (_, i) => `c${i}`) });
  const st = await s.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /101 resource names.*limit of 100/);
  // Delta: the limit holds for the subscription built up over many requests too.
  const d = h.client.delta();
  for (let i = 0; i < 3; i++) d.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names_subscribe: Array.from({ length: 40 }, (_, j) => `c${i}-${j}`) });
  assert.equal((await d.status).code, Status.RESOURCE_EXHAUSTED);
  await othersCarryOn(h);
});

test('a request storm ends that stream with RESOURCE_EXHAUSTED', async () => {
  h = await startHarness({ requestRateLimit: { perSecond: 10, burst: 20 } });
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['a'] });
  for (let i = 0; i < 50; i++) s.send({ type_url: TypeUrl.Endpoint, resource_names: ['a', `b${i}`] });
  const st = await s.status;
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /too many requests.*10 per second/);
  await eventually(() => h!.xds.stats().streams === 0 && h!.cache.openWatches === 0);
  await othersCarryOn(h);
});

test('a cache that refuses a watch ends the stream with the cache\'s status', async () => {
  h = await startHarness();
  const { XdsError, Code } = await import('../../src/resource/index.js');
  h.cache.failWith = new XdsError(Code.FAILED_PRECONDITION, 'no snapshot type for this cache');
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const st = await s.status;
  assert.equal(st.code, Status.FAILED_PRECONDITION);
  assert.match(st.details, /no snapshot type/);
  h.cache.failWith = undefined;
  await othersCarryOn(h);
});

test('a client that stops reading costs at most the newest response per type; others converge', async (t) => {
  const written = new Map<number, number>();
  h = await startHarness({ callbacks: { onStreamDeltaResponse: (id) => void written.set(id, (written.get(id) ?? 0) + 1) } });
  const big = (i: number) => ({ name: `rt-${i}`, layer: { blob: 'x'.repeat(100_000), i } });
  h.cache.set(TypeUrl.Runtime, 'v1', Array.from({ length: 300 }, (_, i) => big(i)));
  const slow = h.client.delta();
  slow.call.pause();
  slow.send({ node: { id: 'slow' }, type_url: TypeUrl.Runtime, resource_names_subscribe: ['rt-0'] });
  // Each request subscribes to one more name: the server answers each, but the reader never reads.
  for (let i = 1; i < 300; i++) slow.send({ type_url: TypeUrl.Runtime, resource_names_subscribe: [`rt-${i}`] });
  await eventually(() => h!.cache.watchRequests.length >= 300, 5000, 'all requests processed');
  await new Promise((r) => setTimeout(r, 200));
  const slowId = [...written.keys()][0];
  const sent = written.get(slowId) ?? 0;
  t.diagnostic(`stalled reader: ${sent} of 300 responses handed to the transport`);
  assert.ok(sent < 60, `responses handed to the transport for the stalled reader stay bounded: ${sent} of 300`);
  assert.ok(h.xds.stats().pendingResponses <= 1, `at most one pending response per type: ${h.xds.stats().pendingResponses}`);
  // Another client on the same server converges while the slow one is stuck.
  await othersCarryOn(h);
  slow.call.resume();
  slow.cancel();
});
