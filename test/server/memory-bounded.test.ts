// Memory is bounded by the server, never by clients: what a client asks for is not kept once it is answered
// and its stream is gone. Each test repeats a hostile client's pattern and checks that the heap stays flat.
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, test, type TestContext } from 'node:test';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { Client, credentials } from '@grpc/grpc-js';
import { encodeMessage, lookupType } from '../../src/resource/index.js';
import { eventually } from './harness.js';

const NODE = { id: 'n' };
let xds: XdsServer | undefined;
let client: RawClient | undefined;
let cache: SnapshotCache | undefined;

afterEach(async () => {
  client?.close();
  await xds?.close({ deadlineMs: 200 });
  cache?.close();
  xds = client = cache = undefined;
});

/**
 * A client that sends one request on an ADS stream and decodes only the envelope of the answer (the resources
 * stay bytes), so that a test of many megabytes spends its time in the server, not in decoding.
 */
class RawClient {
  readonly #client: Client;

  constructor(address: string) {
    this.#client = new Client(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  }

  /** Sends `request` and resolves to the decoded envelope of the first response; the stream is then cancelled. */
  ask(kind: 'sotw' | 'delta', request: Record<string, unknown>): Promise<{ resources: unknown[]; removed_resources?: string[] }> {
    const service = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
    const path = `/${service}/${kind === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources'}`;
    const responseType = lookupType(kind === 'sotw' ? 'envoy.service.discovery.v3.DiscoveryResponse' : 'envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const call = this.#client.makeBidiStreamRequest(path, (b: Buffer) => b, (b: Buffer) => responseType.decode(b));
    const requestType = kind === 'sotw' ? 'envoy.service.discovery.v3.DiscoveryRequest' : 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
    return new Promise((resolve, reject) => {
      call.on('error', () => undefined);
      call.once('data', (response: { resources: unknown[]; removed_resources?: string[] }) => {
        call.cancel();
        resolve(response);
      });
      call.once('status', (status: { code: number; details: string }) => reject(new Error(`stream ended: ${status.details}`)));
      call.write(encodeMessage(requestType, request));
    });
  }

  close(): void {
    this.#client.close();
  }
}

async function start(snapshot: Snapshot): Promise<{ cache: SnapshotCache; xds: XdsServer; client: RawClient }> {
  cache = new SnapshotCache();
  await cache.setSnapshot(NODE.id, snapshot);
  xds = createServer(cache);
  client = new RawClient(`127.0.0.1:${await xds.listen('127.0.0.1:0')}`);
  return { cache, xds, client };
}

/**
 * Memory in use after full collections (finalizers of weakly held memos run between them): the JavaScript heap
 * and the buffers outside it, where response bodies live.
 */
async function settledHeap(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

function report(t: TestContext, what: string, baseline: number, after: number): number {
  const grown = after - baseline;
  t.diagnostic(`${what}: heap and buffers ${(baseline / 1e6).toFixed(1)} MB before, ${(after / 1e6).toFixed(1)} MB after (${grown >= 0 ? '+' : ''}${(grown / 1e6).toFixed(1)} MB)`);
  return grown;
}

test('delta streams that subscribe to 99,000 absent names each, then cancel, leave nothing behind', async (t) => {
  const { xds } = await start(new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a'), cluster('b')] }));
  const hostile = async (round: number): Promise<void> => {
    const names = Array.from({ length: 99_000 }, (_, i) => `absent-${round}-${i}`);
    const answer = await client!.ask('delta', { node: NODE, type_url: TypeUrl.Cluster, resource_names_subscribe: names });
    assert.equal(answer.removed_resources!.length, 99_000, 'every absent name is reported removed');
    await eventually(() => xds.stats().streams === 0, 10_000, 'stream released');
  };
  await hostile(0);
  const baseline = await settledHeap();
  for (let round = 1; round <= 16; round++) await hostile(round);
  const grown = report(t, '16 delta streams × 99,000 absent names', baseline, await settledHeap());
  assert.ok(grown < 16e6, `heap grew by ${(grown / 1e6).toFixed(1)} MB`);
  assert.deepEqual(cache!.getStatusKeys(), [], 'no per-node state left');
});

test('SotW streams asking different subsets of a 2 MB snapshot, then closing, leave nothing behind', async (t) => {
  const names = Array.from({ length: 1000 }, (_, i) => `c${i}`);
  const snapshot = new Snapshot('1', { [TypeUrl.Endpoint]: names.map((name) => endpoints(name, 75)) });
  const size = [...snapshot.getResources(TypeUrl.Endpoint).values()].reduce((sum, r) => sum + r.bytes.length, 0);
  assert.ok(size > 2e6, `the snapshot holds ${size} bytes`);
  const { xds } = await start(snapshot);
  const hostile = async (round: number): Promise<void> => {
    // Every name but one: a different subset of about 2 MB per stream.
    const answer = await client!.ask('sotw', { node: NODE, type_url: TypeUrl.Endpoint, resource_names: names.filter((_, i) => i !== round) });
    assert.equal(answer.resources.length, 999);
    await eventually(() => xds.stats().streams === 0, 10_000, 'stream released');
  };
  await hostile(0);
  const baseline = await settledHeap();
  for (let round = 1; round <= 32; round++) await hostile(round);
  const grown = report(t, '32 SotW streams × a different 2 MB subset', baseline, await settledHeap());
  assert.ok(grown < 16e6, `heap grew by ${(grown / 1e6).toFixed(1)} MB`);
});

test('a subset response is still shared by the streams that hold it at the same time', async () => {
  const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const snapshot = new Snapshot('1', { [TypeUrl.Endpoint]: names.map((name) => endpoints(name)) });
  const t = snapshot.typeResources(TypeUrl.Endpoint)!;
  const first = t.response(false, ['c3', 'c1']);
  assert.equal(t.response(false, ['c1', 'c3', 'absent']), first, 'the same existing names in any order, absent ones aside');
  assert.notEqual(t.response(false, ['c1']), first);
  assert.equal(t.response(true, []), t.response(false, names), 'naming every resource is the wildcard response');
});
