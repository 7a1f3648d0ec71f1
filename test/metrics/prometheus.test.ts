// The prom-client adapter, read as Prometheus reads it: by scraping the registry's text.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { Registry, register as globalRegistry } from 'prom-client';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { createPrometheusMetrics, type PrometheusMetrics } from '../../src/metrics/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually } from '../server/harness.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const NODE = { id: 'node-1' };
const snap = (v: string) => new Snapshot(v, { [C]: [cluster('a')], [E]: [endpoints('a')] });

let registry: Registry;
let metrics: PrometheusMetrics;
let cache: SnapshotCache;
let xds: XdsServer;
let client: XdsTestClient;

beforeEach(async () => {
  registry = new Registry();
  metrics = createPrometheusMetrics({ registry });
  cache = new SnapshotCache({ ads: true });
  metrics.observeCache(cache);
  xds = createServer(cache, { callbacks: metrics.callbacks });
  metrics.observeServer(xds);
  client = new XdsTestClient(`127.0.0.1:${await xds.listen('127.0.0.1:0')}`);
});
afterEach(async () => {
  client.close();
  await xds.close({ deadlineMs: 200 });
});

/** The value of one sample in the scraped text, or undefined when absent. */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean);
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(match[3]);
  }
  return undefined;
}

test('streams are counted by protocol and service, and leave the open gauge when they close', async () => {
  const ads = client.sotw();
  ads.send({ node: NODE, type_url: C });
  const perType = client.delta({ typeUrl: E });
  perType.send({ node: NODE, type_url: E });
  await eventually(() => xds.stats().streams === 2);
  assert.equal(await sample('xds_streams_opened_total', { protocol: 'sotw', service: 'ads' }), 1);
  assert.equal(await sample('xds_streams_opened_total', { protocol: 'delta', service: 'endpoints' }), 1);
  assert.equal(await sample('xds_streams_open', { protocol: 'sotw', service: 'ads' }), 1);
  ads.end();
  await eventually(() => xds.stats().streams === 1);
  assert.equal(await sample('xds_streams_open', { protocol: 'sotw', service: 'ads' }), 0);
  assert.equal(await sample('xds_streams_opened_total', { protocol: 'sotw', service: 'ads' }), 1);
});

test('requests, responses, response bytes, ACKs and NACKs are counted by type', async () => {
  await cache.setSnapshot('node-1', snap('1'));
  const s = client.sotw();
  s.send({ node: NODE, type_url: C });
  const clusters = await s.next();
  s.ack(clusters);
  s.send({ type_url: E, resource_names: ['a'] });
  const eds = await s.next();
  s.nack(eds, 'endpoint a: bad port', '', ['a']);
  await eventually(() => xds.stats().watches === 2, 3000, 'both watches open again');
  assert.equal(await sample('xds_requests_total', { protocol: 'sotw', type: 'clusters' }), 2);
  assert.equal(await sample('xds_requests_total', { protocol: 'sotw', type: 'endpoints' }), 2);
  assert.equal(await sample('xds_responses_total', { protocol: 'sotw', type: 'clusters' }), 1);
  assert.equal(await sample('xds_acks_total', { protocol: 'sotw', type: 'clusters' }), 1);
  assert.equal(await sample('xds_nacks_total', { protocol: 'sotw', type: 'endpoints' }), 1);
  assert.equal(await sample('xds_acks_total', { protocol: 'sotw', type: 'endpoints' }), undefined);
  assert.equal(await sample('xds_response_bytes_count', { protocol: 'sotw', type: 'clusters' }), 1);
  const bytes = await sample('xds_response_bytes_sum', { protocol: 'sotw', type: 'clusters' });
  assert.ok(bytes !== undefined && bytes > 20, `the cluster response's size (${bytes})`);
  assert.equal(await sample('xds_watches_open'), 2);
  assert.equal(await sample('xds_pending_responses'), 0);
});

test('Fetch calls count as requests and responses of protocol fetch', async () => {
  await cache.setSnapshot('node-1', snap('1'));
  await client.fetch(C, { node: NODE, type_url: C });
  assert.equal(await sample('xds_requests_total', { protocol: 'fetch', type: 'clusters' }), 1);
  assert.equal(await sample('xds_responses_total', { protocol: 'fetch', type: 'clusters' }), 1);
});

test('convergence: from setSnapshot to the first ACK of the version it set, once per type', async () => {
  await cache.setSnapshot('node-1', snap('1'));
  const s = client.sotw();
  s.send({ node: NODE, type_url: C });
  s.ack(await s.next());
  await eventually(() => cache.getStatusInfo('node-1')?.types.get(C)?.lastAckedVersion === '1');
  assert.equal(await sample('xds_convergence_seconds_count', { type: 'clusters' }), 1);
  await cache.setSnapshot('node-1', snap('2'));
  const v2 = await s.next();
  s.ack(v2);
  await eventually(() => cache.getStatusInfo('node-1')?.types.get(C)?.lastAckedVersion === '2');
  assert.equal(await sample('xds_convergence_seconds_count', { type: 'clusters' }), 2);
  assert.equal(await sample('xds_convergence_seconds_count', { type: 'endpoints' }), undefined, 'endpoints were never ACKed');
  assert.equal(await sample('xds_snapshots_set_total'), 2);
  assert.equal(await sample('xds_snapshot_push_seconds_count'), 2);
});

test('timeSnapshotBuild records a build, sync or async, and passes its result through', async () => {
  const built = metrics.timeSnapshotBuild(() => snap('1'));
  assert.equal(built.version, '1');
  const later = await metrics.timeSnapshotBuild(() => Snapshot.create('2', { [C]: [cluster('a')] }));
  assert.equal(later.version, '2');
  assert.throws(() => metrics.timeSnapshotBuild(() => snap('')), /version/);
  assert.equal(await sample('xds_snapshot_build_seconds_count'), 3);
});

test("metrics go to the registry given, never to prom-client's global one", async () => {
  assert.equal(globalRegistry.getSingleMetric('xds_requests_total'), undefined);
  assert.ok(registry.getSingleMetric('xds_requests_total'));
  const other = new Registry();
  createPrometheusMetrics({ registry: other, prefix: 'cp_' });
  assert.match(await other.metrics(), /^# HELP cp_streams_opened_total/m);
  assert.throws(() => createPrometheusMetrics({} as never), /needs \{ registry \}/);
});
