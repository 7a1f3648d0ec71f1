// The per-stream queue of responses: newest per type, type order, and backpressure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeUrl } from '../../src/resource/index.js';
import type { ResourceTypeUrl } from '../../src/resource/index.js';
import { ResponseQueue } from '../../src/server/response-queue.js';

type R = { typeUrl: ResourceTypeUrl; v: number };

test('ordered: responses of one turn go out in type order', async () => {
  const out: string[] = [];
  const q = new ResponseQueue<R>((r) => (out.push(`${r.typeUrl.split('.').pop()}`), true), true);
  q.push({ typeUrl: TypeUrl.Route, v: 1 });
  q.push({ typeUrl: TypeUrl.Listener, v: 1 });
  q.push({ typeUrl: TypeUrl.Endpoint, v: 1 });
  q.push({ typeUrl: TypeUrl.Cluster, v: 1 });
  assert.deepEqual(out, []);
  await Promise.resolve();
  assert.deepEqual(out, ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']);
});

test('unordered: each response is written at once', () => {
  const out: number[] = [];
  const q = new ResponseQueue<R>((r) => (out.push(r.v), true), false);
  q.push({ typeUrl: TypeUrl.Route, v: 1 });
  assert.deepEqual(out, [1]);
});

test('when the transport is full, only the newest response per type is held, then flushed on drain', () => {
  const out: number[] = [];
  let room = 1;
  const q = new ResponseQueue<R>((r) => (out.push(r.v), --room > 0), false);
  q.push({ typeUrl: TypeUrl.Cluster, v: 1 });
  assert.equal(q.blocked, true);
  for (let v = 2; v <= 100; v++) q.push({ typeUrl: TypeUrl.Cluster, v });
  q.push({ typeUrl: TypeUrl.Endpoint, v: 7 });
  assert.equal(q.size, 2);
  room = 10;
  q.drained();
  assert.deepEqual(out, [1, 100, 7]);
  assert.equal(q.size, 0);
});

test('drop() forgets a waiting response; close() forgets everything', () => {
  const out: number[] = [];
  const q = new ResponseQueue<R>((r) => (out.push(r.v), false), false);
  q.push({ typeUrl: TypeUrl.Cluster, v: 1 });
  q.push({ typeUrl: TypeUrl.Cluster, v: 2 });
  q.push({ typeUrl: TypeUrl.Route, v: 3 });
  q.drop(TypeUrl.Cluster);
  q.close();
  q.drained();
  assert.deepEqual(out, [1]);
});
