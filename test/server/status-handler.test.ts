// The opt-in HTTP status handler: a table like `istioctl proxy-status`, or JSON.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createStatusHandler } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { node, answer, sotw, watch } from '../cache/helpers.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const cache = new SnapshotCache();
let server: Server;
let base: string;

before(async () => {
  await cache.setSnapshot('node-1', new Snapshot('1', { [C]: [cluster('a')], [E]: [endpoints('a')] }));
  watch(cache, sotw(C, { wildcard: true }));
  watch(cache, answer(C, { wildcard: true, versionInfo: '1', responseNonce: 'n1' }));
  watch(cache, sotw(E, { resourceNames: ['a'] }));
  watch(cache, answer(E, { resourceNames: ['a'], responseNonce: 'n2', errorDetail: { code: 13, message: 'endpoint a: rejected\nsecond line' }, rejectedVersion: '1' }));
  server = createHttpServer(createStatusHandler(cache));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('JSON names each type by its xDS acronym with its state, versions and the NACK message', async () => {
  const res = await fetch(`${base}/status?format=json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as { nodes: any[] };
  assert.equal(body.nodes.length, 1);
  const [n] = body.nodes;
  assert.equal(n.nodeId, 'node-1');
  assert.equal(n.state, 'ERROR');
  assert.equal(n.node, undefined, 'the node (about 62 KB for Envoy) is not echoed');
  const byType = Object.fromEntries(n.types.map((t: any) => [t.type, t]));
  assert.equal(byType.CDS.state, 'SYNCED');
  assert.equal(byType.CDS.ackedVersion, '1');
  assert.equal(byType.EDS.state, 'ERROR');
  assert.equal(byType.EDS.lastNack.version, '1');
  assert.equal(byType.EDS.lastNack.message, 'endpoint a: rejected\nsecond line');
  assert.ok(!Number.isNaN(Date.parse(byType.EDS.lastNack.time)));
});

test('Accept: application/json gives JSON too', async () => {
  const res = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(Array.isArray(((await res.json()) as { nodes: unknown[] }).nodes));
});

test('the default is a table with a row per node and a column per type, then the NACK messages', async () => {
  const res = await fetch(`${base}/status`);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  const [header, row] = text.split('\n');
  assert.match(header, /^NODE\s+STREAMS\s+SNAPSHOT\s+CDS\s+EDS$/);
  assert.match(row, /^node-1\s+0\s+1\s+SYNCED \(1\)\s+ERROR \(rejected 1, acked -\)$/);
  assert.match(text, /node-1 EDS rejected version 1 at \S+: endpoint a: rejected\nsecond line/);
});

test('?node= narrows to one key; an unknown key is 404', async () => {
  const one = (await (await fetch(`${base}/status?format=json&node=node-1`)).json()) as { nodes: unknown[] };
  assert.equal(one.nodes.length, 1);
  const missing = await fetch(`${base}/status?node=nobody`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /no node "nobody" is tracked/);
});

test('anything but GET or HEAD is 405; an unknown format is 400', async () => {
  assert.equal((await fetch(`${base}/status`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/status?format=xml`)).status, 400);
});

test('a long NACK message is cut, saying how much was cut', async () => {
  const c = new SnapshotCache();
  await c.setSnapshot('n', new Snapshot('1', { [C]: [cluster('a')] }));
  watch(c, sotw(C, { node: node('n'), wildcard: true }));
  watch(c, answer(C, { node: node('n'), wildcard: true, responseNonce: 'n1', errorDetail: { code: 13, message: 'x'.repeat(10_000) }, rejectedVersion: '1' }));
  const s = createHttpServer(createStatusHandler(c));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  try {
    const body = (await (await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/?format=json`)).json()) as { nodes: any[] };
    const message: string = body.nodes[0].types[0].lastNack.message;
    assert.ok(message.length < 4200);
    assert.match(message, /… \(5904 more characters\)$/);
  } finally {
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});
