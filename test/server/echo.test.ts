// Text a client sends is echoed into statuses and logs only as a short excerpt: a huge field gets a clear status
// at once, and the connection it came on stays usable.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { excerpt, TypeUrl } from '../../src/resource/index.js';
import { cluster } from '../support/sample-resources.js';
import { eventually, NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.stop());

const HUGE = 4 * 1024 * 1024;

/** A second stream on the same client (same HTTP/2 connection) is answered. */
async function sameConnectionStillServes(harness: Harness): Promise<void> {
  harness.cache.set(TypeUrl.Cluster, 'v-ok', [cluster('c0')]);
  const s = harness.client.sotw();
  s.send({ node: { id: 'neighbour' }, type_url: TypeUrl.Cluster });
  assert.equal((await s.next(5000)).version_info, 'v-ok');
  s.cancel();
}

/** Resolves with the status, or rejects if none arrives within `ms` (the old failure was a hang). */
function promptly<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no status within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('excerpt keeps short text and cuts long text, saying how much was left out', () => {
  assert.equal(excerpt('node-1'), 'node-1');
  const cut = excerpt('x'.repeat(10_000), 100);
  assert.ok(cut.length < 140, cut);
  assert.match(cut, /^x{100}… \(9900 more characters\)$/);
});

test('a 4 MB unknown type URL gets INVALID_ARGUMENT promptly, with the URL cut short', async () => {
  h = await startHarness();
  const s = h.client.sotw();
  s.send({ node: NODE, type_url: `type.googleapis.com/${'x'.repeat(HUGE)}` });
  const st = await promptly(s.status);
  assert.equal(st.code, Status.INVALID_ARGUMENT);
  assert.match(st.details, /unknown xDS resource type URL/);
  assert.ok(st.details.length < 2048, `status is ${st.details.length} characters`);
  await sameConnectionStillServes(h);
});

test('a 4 MB type URL on a per-type service gets INVALID_ARGUMENT promptly (SotW and delta)', async () => {
  h = await startHarness();
  const s = h.client.sotw({ typeUrl: TypeUrl.Cluster });
  s.send({ node: NODE, type_url: 'y'.repeat(HUGE) });
  const d = h.client.delta({ typeUrl: TypeUrl.Cluster });
  d.send({ node: NODE, type_url: 'z'.repeat(HUGE) });
  for (const st of await promptly(Promise.all([s.status, d.status]))) {
    assert.equal(st.code, Status.INVALID_ARGUMENT);
    assert.match(st.details, /does not match this service/);
    assert.ok(st.details.length < 2048, `status is ${st.details.length} characters`);
  }
  await sameConnectionStillServes(h);
});

test('a 4 MB node id change mid-stream gets INVALID_ARGUMENT promptly, with both ids cut short', async () => {
  h = await startHarness();
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c0')]);
  const s = h.client.sotw();
  s.send({ node: { id: 'a'.repeat(HUGE) }, type_url: TypeUrl.Cluster });
  const first = await s.next(10_000);
  s.send({ node: { id: 'b'.repeat(HUGE) }, type_url: TypeUrl.Cluster, version_info: first.version_info, response_nonce: first.nonce });
  const st = await promptly(s.status);
  assert.equal(st.code, Status.INVALID_ARGUMENT);
  assert.match(st.details, /node id changed on this stream/);
  assert.ok(st.details.length < 2048, `status is ${st.details.length} characters`);
  await sameConnectionStillServes(h);
});

test('log lines carry client text cut short: a huge NACK message, nonce and node id', async () => {
  const lines: string[] = [];
  const record = (fields: object, message?: string): void => void lines.push(JSON.stringify(fields) + (message ?? ''));
  h = await startHarness({ logger: { debug: record, info: record, warn: record, error: record } });
  h.cache.set(TypeUrl.Cluster, 'v1', [cluster('c0')]);
  const s = h.client.sotw();
  s.send({ node: { id: 'n'.repeat(HUGE) }, type_url: TypeUrl.Cluster });
  const first = await s.next(10_000);
  s.send({ type_url: TypeUrl.Cluster, response_nonce: 'q'.repeat(HUGE) }); // stale nonce, logged at debug
  s.nack(first, 'e'.repeat(HUGE));
  await eventually(() => lines.some((line) => line.endsWith('NACK')), 10_000, 'the NACK logged');
  s.cancel();
  await s.status;
  const longest = Math.max(...lines.map((line) => line.length));
  assert.ok(longest < 4096, `longest log line is ${longest} characters`);
});
