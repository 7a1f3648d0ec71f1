// The gRPC health service in the worker mode: the workers hold the port and answer Check and Watch; the statuses
// live in this process (serve-when-ready on the application's cache, xds.health.set), and every change reaches
// every worker, a replacement included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer } from '../../src/server/index.js';
import type { XdsServer } from '../../src/server/index.js';
import { collect, healthClient, unary } from '../support/grpc-clients.js';
import { cluster } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually, workersAfterReplacing } from './harness.js';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

let cache: SnapshotCache;
let xds: XdsServer;
let address: string;
let made = 0;

/**
 * A health client on a connection of its own, with an xDS stream on the same connection, so that the workers'
 * stream counts tell which worker holds it.
 */
interface Probe {
  readonly health: ReturnType<typeof healthClient>;
  readonly xds: XdsTestClient;
}
const probes: Probe[] = [];

function probe(): void {
  const xdsClient = new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1, 'test.connection': ++made });
  // A key without a snapshot: the stream stays open, waiting, and counts in its worker's streams.
  xdsClient.sotw().send({ node: { id: `probe-${made}` }, type_url: TypeUrl.Cluster });
  probes.push({ xds: xdsClient, health: healthClient(address, { options: { channelOverride: xdsClient.client.getChannel() } }) });
}

function closeProbes(): void {
  for (const p of probes.splice(0)) {
    p.health.close();
    p.xds.close();
  }
}

/** New probes, until each living worker holds at least one of their connections. */
async function probesOnEveryWorker(): Promise<void> {
  closeProbes();
  await eventually(() => xds.stats().streams === 0, 5000, 'the old probes closed');
  for (let i = 0; i < 4; i++) probe();
  const deadline = Date.now() + 10_000;
  for (;;) {
    await eventually(() => xds.stats().streams === probes.length, 5000, 'the probes\' streams reported');
    const workers = await xds.workers();
    if (workers.length === 2 && workers.every((w) => w.stats.streams > 0)) return;
    if (Date.now() > deadline) throw new Error(`probes not on every worker: ${workers.map((w) => `${w.pid}: ${w.stats.streams}`).join(', ')}`);
    probe();
  }
}

const check = async (p: Probe, service = ''): Promise<string> => (await unary<{ status: string }>(p.health, 'Check', { service })).status;
const everyCheck = (service = ''): Promise<string[]> => Promise.all(probes.map((p) => check(p, service)));

before(async () => {
  cache = new SnapshotCache({ ads: true });
  xds = createServer(cache, { workers: 2, health: true });
  address = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
  await probesOnEveryWorker();
});
after(async () => {
  closeProbes();
  await xds.close({ deadlineMs: 500 });
  cache.close();
});

test('every worker answers NOT_SERVING until a first snapshot is set in this process, SERVING after', async () => {
  assert.ok(xds.health !== undefined, 'xds.health is the statuses of this process');
  for (const service of ['', ADS]) assert.deepEqual(new Set(await everyCheck(service)), new Set(['NOT_SERVING']));
  await cache.setSnapshot('node-1', new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a')] }));
  assert.equal(xds.health.get(), 'SERVING');
  const deadline = Date.now() + 5000;
  while (!(await everyCheck()).every((s) => s === 'SERVING') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  for (const service of ['', ADS, 'envoy.service.cluster.v3.ClusterDiscoveryService']) assert.deepEqual(new Set(await everyCheck(service)), new Set(['SERVING']), service);
});

test('xds.health.set in this process reaches the Watch calls on every worker; a service it names becomes known', async () => {
  await assert.rejects(check(probes[0], 'my.Service'), (e: { code: number; details: string }) => e.code === GrpcStatus.NOT_FOUND && /unknown service "my.Service"/.test(e.details));
  const watches = probes.map((p) => collect(p.health['Watch']({ service: ADS })));
  await eventually(() => watches.every((w) => w.messages.length === 1), 3000, 'the first status on every watch');
  xds.health!.set('NOT_SERVING', ADS);
  await eventually(() => watches.every((w) => w.messages.length === 2), 3000, 'the change on every watch');
  assert.deepEqual(watches.map((w) => w.messages.map((m: { status: string }) => m.status)), probes.map(() => ['SERVING', 'NOT_SERVING']));
  xds.health!.set('SERVING', 'my.Service');
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && !(await Promise.allSettled(probes.map((p) => check(p, 'my.Service')))).every((r) => r.status === 'fulfilled')) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(new Set(await everyCheck('my.Service')), new Set(['SERVING']));
  await probesOnEveryWorker();
  assert.deepEqual(new Set(await everyCheck(ADS)), new Set(['NOT_SERVING']), 'the last status set, on fresh connections too');
});

test('a replacement worker starts with the statuses of this process', async () => {
  xds.health!.set('NOT_SERVING', 'my.Service');
  const before = (await xds.workers()).map((w) => w.pid);
  process.kill(before[0], 'SIGKILL');
  const pids = await workersAfterReplacing(xds, before[0], 2);
  assert.ok(pids.length === 2 && !pids.includes(before[0]), `replaced: ${pids.join(', ')}`);
  // New probes reach the replacement too.
  await probesOnEveryWorker();
  assert.deepEqual(new Set(await everyCheck('my.Service')), new Set(['NOT_SERVING']));
  assert.deepEqual(new Set(await everyCheck('')), new Set(['SERVING']));
});

test('close() makes every worker answer NOT_SERVING and ends the Watch calls', async () => {
  const watches = probes.map((p) => collect(p.health['Watch']({ service: '' })));
  await eventually(() => watches.every((w) => w.messages.length === 1), 3000, 'the first status on every watch');
  await xds.close({ deadlineMs: 2000 });
  for (const w of watches) {
    assert.equal(await w.ended, undefined, 'the watch ended with OK');
    assert.deepEqual(w.messages.map((m: { status: string }) => m.status), ['SERVING', 'NOT_SERVING']);
  }
});
