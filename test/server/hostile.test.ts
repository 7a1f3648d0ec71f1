// A property-based hostile test: many streams at once send random sequences of valid, half-valid and invalid
// requests (random type URLs, nonces, versions, names, NACKs, node changes, garbage bytes, huge fields, bursts,
// cancels) while well-behaved streams run beside them. Whatever the sequence: the server stays up; every hostile
// stream follows the protocol or ends with a clear status; the well-behaved streams converge on each new
// snapshot; once every stream has closed, no stream, watch or per-node state is left, and the heap is back near
// its baseline. Loopback only; bounded in runs and time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { status as Status } from '@grpc/grpc-js';
import type { StatusObject } from '@grpc/grpc-js';
import fc from 'fast-check';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { RESOURCE_TYPE_URLS, TypeUrl } from '../../src/resource/index.js';
import { createServer } from '../../src/server/index.js';
import type { XdsServer } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import type { DeltaStream, SotwStream } from '../support/xds-client.js';
import { eventually } from './harness.js';

const NODES = ['h0', 'h1', 'h2', 'good', 'no-snapshot'];
const NAMES = ['c0', 'c1', 'c2', 'c3', 'missing', '*'];
const HUGE = 1024 * 1024;

/** One thing a hostile stream does. */
type Action =
  | { kind: 'request'; typeUrl: string; names: string[]; nonce: 'last' | 'stale' | 'random'; version: string; nack: string | undefined; node: string | undefined }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'huge'; field: 'type_url' | 'node' | 'names' | 'nonce' | 'error' }
  | { kind: 'burst'; count: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'cancel' }
  | { kind: 'end' };

const typeUrlArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route, TypeUrl.Secret) },
  { weight: 1, arbitrary: fc.constantFrom(...RESOURCE_TYPE_URLS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant('') },
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      typeUrl: typeUrlArb,
      names: fc.array(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 12 })), { maxLength: 6 }),
      nonce: fc.constantFrom('last' as const, 'stale' as const, 'random' as const),
      version: fc.oneof(fc.constant(''), fc.constantFrom('v1', 'v2'), fc.string({ maxLength: 10 })),
      nack: fc.option(fc.string({ maxLength: 30 }), { nil: undefined, freq: 4 }),
      node: fc.option(fc.constantFrom(...NODES), { nil: undefined, freq: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), field: fc.constantFrom('type_url' as const, 'node' as const, 'names' as const, 'nonce' as const, 'error' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('burst' as const), count: fc.integer({ min: 5, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 15 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cancel' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
);

const streamArb = fc.record({
  delta: fc.boolean(),
  perType: fc.option(fc.constantFrom(TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Secret), { nil: undefined, freq: 3 }),
  node: fc.constantFrom(...NODES),
  actions: fc.array(actionArb, { minLength: 1, maxLength: 12 }),
});

type Scenario = typeof streamArb extends fc.Arbitrary<infer S> ? S : never;

/** Statuses a hostile stream may end with: each says what was wrong (or that the client ended it). */
const CLEAR_ENDINGS = new Set([Status.OK, Status.CANCELLED, Status.INVALID_ARGUMENT, Status.RESOURCE_EXHAUSTED]);

let xds: XdsServer;
let cache: SnapshotCache;
let port: number;
/** The well-behaved clients' own connection. */
let goodClient: XdsTestClient;
let version = 0;

function snapshot(v: string): Snapshot {
  return new Snapshot(v, {
    [TypeUrl.Cluster]: [cluster('c0'), cluster('c1'), cluster('c2'), cluster('c3')],
    [TypeUrl.Endpoint]: [endpoints('c0'), endpoints('c1')],
  });
}

async function setAll(): Promise<string> {
  const v = `v${++version}`;
  for (const node of NODES.filter((n) => n !== 'no-snapshot')) await cache.setSnapshot(node, snapshot(v));
  return v;
}

before(async () => {
  cache = new SnapshotCache({ ads: true });
  await setAll();
  // Limits low enough for random bursts and lists to cross them.
  xds = createServer(cache, { maxResourceNames: 1000, requestRateLimit: { perSecond: 50, burst: 40 } });
  port = await xds.listen('127.0.0.1:0');
  goodClient = new XdsTestClient(`127.0.0.1:${port}`, undefined, { 'test.connection': 'good' });
});

after(async () => {
  goodClient.close();
  await xds.close({ deadlineMs: 500 });
});

function requestBody(action: Extract<Action, { kind: 'request' }>, delta: boolean, lastNonce: string): Record<string, unknown> {
  const nonce = action.nonce === 'last' ? lastNonce : action.nonce === 'stale' ? '0' : `n${action.version}`;
  const body: Record<string, unknown> = delta
    ? { type_url: action.typeUrl, resource_names_subscribe: action.names, response_nonce: nonce }
    : { type_url: action.typeUrl, resource_names: action.names, response_nonce: nonce, version_info: action.version };
  if (action.nack !== undefined) body['error_detail'] = { code: Status.INVALID_ARGUMENT, message: action.nack };
  if (action.node !== undefined) body['node'] = { id: action.node };
  return body;
}

function hugeBody(field: Extract<Action, { kind: 'huge' }>['field'], delta: boolean): Record<string, unknown> {
  const big = 'x'.repeat(HUGE);
  switch (field) {
    case 'type_url':
      return { type_url: big };
    case 'node':
      return { node: { id: big }, type_url: TypeUrl.Cluster };
    case 'names':
      return delta ? { type_url: TypeUrl.Cluster, resource_names_subscribe: [big] } : { type_url: TypeUrl.Cluster, resource_names: [big] };
    case 'nonce':
      return { type_url: TypeUrl.Cluster, response_nonce: big };
    case 'error':
      return { type_url: TypeUrl.Cluster, response_nonce: '1', error_detail: { code: 3, message: big } };
  }
}

/** Plays one hostile stream; resolves with its final status and what it received. */
async function playHostile(scenario: Scenario, client: XdsTestClient) {
  const target = scenario.perType === undefined ? {} : { typeUrl: scenario.perType };
  const stream: SotwStream | DeltaStream = scenario.delta ? client.delta(target) : client.sotw(target);
  let ended = false;
  void stream.status.then(() => (ended = true));
  const lastNonce = (): string => stream.received.at(-1)?.nonce ?? '';
  stream.send({ node: { id: scenario.node }, type_url: scenario.perType ?? TypeUrl.Cluster });
  for (const action of scenario.actions) {
    if (ended) break;
    switch (action.kind) {
      case 'request':
        stream.send(requestBody(action, scenario.delta, lastNonce()));
        break;
      case 'garbage':
        stream.send(Buffer.from(action.bytes));
        break;
      case 'huge':
        stream.send(hugeBody(action.field, scenario.delta));
        break;
      case 'burst':
        for (let i = 0; i < action.count; i++) {
          const names = scenario.delta ? { resource_names_subscribe: [`b${i}`] } : { resource_names: [`b${i}`] };
          stream.send({ type_url: scenario.perType ?? TypeUrl.Cluster, response_nonce: lastNonce(), ...names });
        }
        break;
      case 'wait':
        await new Promise((r) => setTimeout(r, action.ms));
        break;
      case 'cancel':
        stream.cancel();
        break;
      case 'end':
        stream.end();
        break;
    }
    // A client writes nothing after it cancels or half-closes (grpc-js would only fail those writes locally).
    if (action.kind === 'cancel' || action.kind === 'end') break;
  }
  // Let the server answer what was sent (a status, often), then hang up if it has not ended.
  await Promise.race([stream.status, new Promise((r) => setTimeout(r, 300))]);
  if (!ended) stream.cancel();
  const status: StatusObject = await stream.status;
  return { status, received: stream.received };
}

/** A client that follows the protocol: subscribes, ACKs every response, and must see version `want`. */
async function wellBehaved(client: XdsTestClient, delta: boolean, node: string, want: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  if (delta) {
    const s = client.delta();
    s.send({ node: { id: node }, type_url: TypeUrl.Cluster, resource_names_subscribe: ['*'] });
    const versions = new Map<string, string>();
    try {
      for (;;) {
        const r = await s.next(Math.max(1, deadline - Date.now()));
        for (const resource of r.resources) versions.set(resource.name, resource.version ?? '');
        s.ack(r);
        // Converged: the snapshot of `want` holds c0..c3 at the cache's hashes; compare with a fresh fetch.
        const expected = cache.getSnapshot('good')?.getResources(TypeUrl.Cluster);
        if (cache.getSnapshot('good')?.version === want() && expected !== undefined && [...expected].every(([name, res]) => versions.get(name) === res.hash)) break;
      }
    } finally {
      s.cancel();
    }
  } else {
    const s = client.sotw();
    s.send({ node: { id: node }, type_url: TypeUrl.Cluster });
    try {
      for (;;) {
        const r = await s.next(Math.max(1, deadline - Date.now()));
        s.ack(r);
        if (r.version_info === want()) break;
      }
    } finally {
      s.cancel();
    }
  }
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function assertReleased(): Promise<void> {
  const released = (): boolean => xds.stats().streams === 0 && xds.stats().watches === 0 && xds.stats().connections === 0 && cache.getStatusKeys().length === 0;
  await eventually(released, 10_000, 'every stream, watch and node state released').catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify({ ...xds.stats(), nodes: cache.getStatusKeys() })}`);
  });
}

test('hostile streams never take the server down, end with clear statuses, and leave nothing behind; good streams converge', async (t) => {
  const started = Date.now();
  let runs = 0;
  let baseline = 0;
  const endings = new Map<string, number>();
  const property = fc.asyncProperty(fc.array(streamArb, { minLength: 2, maxLength: 8 }), async (scenarios) => {
    runs++;
    // Two well-behaved clients (SotW and delta) must converge on a snapshot set while the hostile streams play.
    let want = `v${version}`;
    const good = [wellBehaved(goodClient, false, 'good', () => want), wellBehaved(goodClient, true, 'good', () => want)];
    // Hostile streams share two connections of their own, closed at the end of the run.
    const hostileClients = [0, 1].map((i) => new XdsTestClient(`127.0.0.1:${port}`, undefined, { 'test.connection': `${runs}-${i}` }));
    const hostile = scenarios.map((scenario, i) => playHostile(scenario, hostileClients[i % 2]));
    await new Promise((r) => setTimeout(r, 5));
    want = await setAll();
    const outcomes = await Promise.all(hostile);
    await Promise.all(good);
    for (const client of hostileClients) client.close();
    for (const { status, received } of outcomes) {
      const name = Status[status.code];
      endings.set(name, (endings.get(name) ?? 0) + 1);
      assert.ok(CLEAR_ENDINGS.has(status.code), `unclear ending ${name}: ${status.details}`);
      if (status.code === Status.INVALID_ARGUMENT || status.code === Status.RESOURCE_EXHAUSTED) {
        assert.ok(status.details.length > 10 && status.details.length <= 1100, `status says why, briefly: ${status.details.length} characters`);
      }
      // Protocol: nonces of one stream increase, and every response is of a known type.
      const nonces = received.map((r) => Number(r.nonce));
      assert.deepEqual(nonces, [...nonces].sort((a, b) => a - b));
      assert.equal(new Set(nonces).size, nonces.length);
      for (const r of received) assert.ok((RESOURCE_TYPE_URLS as readonly string[]).includes(r.type_url), r.type_url);
    }
    await assertReleased();
  });
  // Warm up (codecs, grpc-js buffers), then measure the heap across the runs.
  await fc.assert(property, { numRuns: 3, seed: 1 });
  gc();
  baseline = process.memoryUsage().heapUsed;
  await fc.assert(property, { numRuns: 25, interruptAfterTimeLimit: 40_000 });
  await assertReleased();
  gc();
  const heap = process.memoryUsage().heapUsed;
  t.diagnostic(`${runs} runs in ${Date.now() - started} ms; endings ${JSON.stringify(Object.fromEntries(endings))}`);
  t.diagnostic(`heap: baseline ${(baseline / 1e6).toFixed(1)} MB, after the runs ${(heap / 1e6).toFixed(1)} MB`);
  assert.ok(heap - baseline < 10e6, `heap grew by ${((heap - baseline) / 1e6).toFixed(1)} MB`);
});
