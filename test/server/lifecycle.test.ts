// Stream lifecycle: callbacks (authorization, ordering, notifications), graceful close, and release of state
// under connection churn.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { Code, TypeUrl, XdsError } from '../../src/resource/index.js';
import type { Callbacks } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually, NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

test('onStreamOpen that throws an XdsError ends the stream with its status (authorization)', async () => {
  const closed: number[] = [];
  h = await startHarness({
    callbacks: {
      onStreamOpen: async (_id, _type, context) => {
        await new Promise((r) => setTimeout(r, 10));
        if (context.metadata?.get('authorization')[0] !== 'Bearer ok') throw new XdsError(Code.PERMISSION_DENIED, 'missing or wrong token');
      },
      onStreamClosed: (id) => void closed.push(id),
    },
  });
  const denied = h.client.sotw();
  denied.send({ node: NODE, type_url: TypeUrl.Cluster });
  const st = await denied.status;
  assert.equal(st.code, Status.PERMISSION_DENIED);
  assert.equal(st.details, 'missing or wrong token');
  assert.equal(h.cache.watchRequests.length, 0);
  await eventually(() => closed.length === 1);

  const md = new Metadata();
  md.set('authorization', 'Bearer ok');
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
  const allowed = h.client.sotw({}, md);
  allowed.send({ node: NODE, type_url: TypeUrl.Cluster });
  assert.equal((await allowed.next()).version_info, 'v1');
});

test('callbacks see the stream id, type, requests, responses with nonces, and the close with the node', async () => {
  const events: string[] = [];
  const callbacks: Callbacks = {
    onStreamOpen: (id, typeUrl) => void events.push(`open ${id} ${typeUrl || 'ADS'}`),
    onStreamRequest: (id, request) => void events.push(`request ${id} ${request.type_url} node=${request.node?.id}`),
    onStreamResponse: (id, request, response, nonce) => void events.push(`response ${id} ${response.version} nonce=${nonce} for=${request.type_url}`),
    onStreamClosed: (id, node) => void events.push(`closed ${id} ${node?.id}`),
    onDeltaStreamOpen: (id, typeUrl) => void events.push(`delta-open ${id} ${typeUrl}`),
    onStreamDeltaRequest: (id, request) => void events.push(`delta-request ${id} ${request.resource_names_subscribe.join(',')}`),
    onStreamDeltaResponse: (id, _request, response, nonce) => void events.push(`delta-response ${id} ${response.resources.map((r) => r.name).join(',')} nonce=${nonce}`),
    onDeltaStreamClosed: (id, node) => void events.push(`delta-closed ${id} ${node?.id}`),
  };
  h = await startHarness({ callbacks });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
  h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a')]);
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  await s.next();
  s.end();
  await s.status;
  const d = h.client.delta({ typeUrl: TypeUrl.Endpoint });
  d.send({ node: NODE, resource_names_subscribe: ['a'] });
  await d.next();
  d.end();
  await d.status;
  await eventually(() => events.length === 8);
  assert.deepEqual(events, [
    'open 1 ADS',
    `request 1 ${TypeUrl.Cluster} node=node-1`,
    `response 1 v1 nonce=1 for=${TypeUrl.Cluster}`,
    'closed 1 node-1',
    `delta-open 2 ${TypeUrl.Endpoint}`,
    'delta-request 2 a',
    'delta-response 2 a nonce=1',
    'delta-closed 2 node-1',
  ]);
});

test('an async onStreamRequest holds later requests, so they are acted on in order', async () => {
  let first = true;
  h = await startHarness({
    callbacks: {
      onStreamRequest: async () => {
        if (first) {
          first = false;
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    },
  });
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Endpoint, resource_names: ['first'] });
  s.send({ type_url: TypeUrl.Endpoint, resource_names: ['second'] });
  await eventually(() => h!.cache.watchRequests.length === 2);
  assert.deepEqual(h.cache.watchRequests.map((w) => ('resourceNames' in w ? w.resourceNames[0] : '')), ['first', 'second']);
  assert.equal(h.cache.openWatches, 1);
});

test('onStreamRequest that rejects ends the stream with its status', async () => {
  h = await startHarness({
    callbacks: {
      onStreamRequest: (_id, request) => {
        if (request.node?.id !== 'allowed') return Promise.reject(new XdsError(Code.UNAUTHENTICATED, `node ${request.node?.id} unknown`));
        return undefined;
      },
    },
  });
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  const st = await s.status;
  assert.equal(st.code, Status.UNAUTHENTICATED);
  assert.match(st.details, /node-1 unknown/);
});

test('a notification callback that throws is logged and the stream carries on', async () => {
  const logged: string[] = [];
  h = await startHarness({
    logger: { debug() {}, info() {}, warn() {}, error: (_f, m) => void logged.push(m ?? '') },
    callbacks: {
      onStreamResponse: () => {
        throw new Error('buggy metrics');
      },
    },
  });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  s.ack(await s.next());
  h.cache.set(TypeUrl.Cluster, 'v2', [cluster('a')]);
  assert.equal((await s.next()).version_info, 'v2');
  assert.ok(logged.some((m) => /onStreamResponse threw/.test(m)));
});

test('the logger never sees resource bodies', async () => {
  const lines: string[] = [];
  const record = (fields: object, message?: string) => void lines.push(JSON.stringify(fields) + (message ?? ''));
  h = await startHarness({ logger: { debug: record, info: record, warn: record, error: record } });
  h.cache.set(TypeUrl.Secret, 'v1', [{ name: 'cert', tls_certificate: { private_key: { inline_string: 'TOP-SECRET-KEY' } } }]);
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Secret, resource_names: ['cert'] });
  s.nack(await s.next(), 'bad key');
  await eventually(() => lines.some((l) => l.includes('NACK')));
  s.end();
  await s.status;
  assert.ok(lines.length > 3);
  assert.ok(!lines.some((l) => l.includes('TOP-SECRET-KEY')));
});

test('close() ends open streams with UNAVAILABLE, refuses new ones, and finishes within the deadline', async () => {
  h = await startHarness();
  const streams = [h.client.sotw(), h.client.delta(), h.client.sotw({ typeUrl: TypeUrl.Route })];
  streams[0].send({ node: NODE, type_url: TypeUrl.Cluster });
  streams[1].send({ node: NODE, type_url: TypeUrl.Cluster });
  streams[2].send({ node: NODE, resource_names: ['r'] });
  await eventually(() => h!.cache.openWatches === 3);
  const started = Date.now();
  await h.xds.close({ deadlineMs: 1000 });
  assert.ok(Date.now() - started < 1500);
  for (const s of streams) {
    const st = await s.status;
    assert.equal(st.code, Status.UNAVAILABLE);
    assert.match(st.details, /shutting down/);
  }
  assert.equal(h.cache.openWatches, 0);
  assert.equal(h.xds.stats().streams, 0);
  const late = new XdsTestClient(`127.0.0.1:${h.port}`);
  const s = late.sotw();
  s.send({ node: NODE, type_url: TypeUrl.Cluster });
  assert.equal((await s.status).code, Status.UNAVAILABLE);
  late.close();
});

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('thousands of open/close cycles release every watch and stream; heap returns near baseline', async (t) => {
  // 200 streams at a time on one connection, opened as fast as the client can: over the default admission limits.
  h = await startHarness({ maxStreamsPerConnection: false, newStreamRate: false });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
  const cycle = async (batch: number) => {
    const streams = Array.from({ length: batch }, (_, i) => {
      const s = i % 2 === 0 ? h!.client.sotw() : h!.client.delta();
      s.send({ node: { id: `churn-${i}` }, type_url: TypeUrl.Endpoint, ...(i % 2 === 0 ? { resource_names: ['x'] } : { resource_names_subscribe: ['x'] }) });
      return s;
    });
    await eventually(() => h!.cache.openWatches >= batch, 10_000, 'watches opened');
    for (const [i, s] of streams.entries()) {
      if (i % 3 === 0) s.end();
      else s.cancel();
    }
    await eventually(() => h!.xds.stats().streams === 0 && h!.cache.openWatches === 0 && h!.cache.nodes.size === 0, 10_000, 'released');
    h!.cache.watchRequests.length = 0;
  };
  await cycle(200);
  gc();
  const baseline = process.memoryUsage().heapUsed;
  for (let i = 0; i < 15; i++) await cycle(200);
  gc();
  const after = process.memoryUsage().heapUsed;
  t.diagnostic(`heap: baseline ${(baseline / 1e6).toFixed(1)} MB, after 3000 more streams ${(after / 1e6).toFixed(1)} MB`);
  assert.equal(h.xds.stats().totalStreams, 3200);
  assert.equal(h.xds.stats().watches, 0);
  assert.ok(after - baseline < 4e6, `heap grew by ${((after - baseline) / 1e6).toFixed(1)} MB`);
});
