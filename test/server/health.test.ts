// grpc.health.v1.Health, asked by a client built from proto/grpc/health/v1/health.proto.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { LinearCache, Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer } from '../../src/server/index.js';
import { collect, healthClient, unary } from '../support/grpc-clients.js';
import { cluster } from '../support/sample-resources.js';
import { eventually } from './harness.js';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

async function serve(cache: SnapshotCache | LinearCache, health = true) {
  const xds = createServer(cache, { health });
  const port = await xds.listen('127.0.0.1:0');
  const client = healthClient(`127.0.0.1:${port}`);
  const stop = async (): Promise<void> => {
    client.close();
    await xds.close({ deadlineMs: 500 });
  };
  return { xds, client, stop };
}

const check = async (client: ReturnType<typeof healthClient>, service = '') => (await unary<{ status: string }>(client, 'Check', { service })).status;

test('NOT_SERVING until a first snapshot is set, SERVING after, for the server and each xDS service', async () => {
  const cache = new SnapshotCache();
  const { client, stop } = await serve(cache);
  try {
    assert.equal(await check(client), 'NOT_SERVING');
    assert.equal(await check(client, ADS), 'NOT_SERVING');
    await cache.setSnapshot('node-1', new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a')] }));
    assert.equal(await check(client), 'SERVING');
    assert.equal(await check(client, ADS), 'SERVING');
    assert.equal(await check(client, 'envoy.service.cluster.v3.ClusterDiscoveryService'), 'SERVING');
  } finally {
    await stop();
  }
});

test('a snapshot set before the server was created makes it SERVING at once', async () => {
  const cache = new SnapshotCache();
  await cache.setSnapshot('node-1', new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a')] }));
  const { client, stop } = await serve(cache);
  try {
    assert.equal(await check(client), 'SERVING');
  } finally {
    await stop();
  }
});

test('a cache without snapshots (LinearCache) is SERVING at once', async () => {
  const { client, stop } = await serve(new LinearCache(TypeUrl.Cluster));
  try {
    assert.equal(await check(client), 'SERVING');
  } finally {
    await stop();
  }
});

test('Check of an unknown service is NOT_FOUND', async () => {
  const { client, stop } = await serve(new SnapshotCache());
  try {
    await assert.rejects(unary(client, 'Check', { service: 'no.such.Service' }), (e: any) => e.code === GrpcStatus.NOT_FOUND && /unknown service "no.such.Service"/.test(e.details));
  } finally {
    await stop();
  }
});

test('Watch sends the status, then each change; close() sends NOT_SERVING and ends the watch', async () => {
  const cache = new SnapshotCache();
  const { xds, client } = await serve(cache);
  try {
    const watch = collect(client['Watch']({ service: '' }));
    await eventually(() => watch.messages.length === 1, 3000, 'the first status');
    await cache.setSnapshot('node-1', new Snapshot('1', { [TypeUrl.Cluster]: [cluster('a')] }));
    await eventually(() => watch.messages.length === 2, 3000, 'the change');
    await xds.close({ deadlineMs: 2000 });
    assert.equal(await watch.ended, undefined, 'the watch ended with OK');
    assert.deepEqual(watch.messages.map((m: any) => m.status), ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  } finally {
    client.close();
  }
});

test('Watch of an unknown service says SERVICE_UNKNOWN and stays open for when it is set', async () => {
  const cache = new SnapshotCache();
  const { xds, client, stop } = await serve(cache);
  try {
    const watch = collect(client['Watch']({ service: 'app.Ready' }));
    await eventually(() => watch.messages.length === 1, 3000, 'the first status');
    xds.health!.set('SERVING', 'app.Ready');
    await eventually(() => watch.messages.length === 2, 3000, 'the change');
    assert.deepEqual(watch.messages.map((m: any) => m.status), ['SERVICE_UNKNOWN', 'SERVING']);
  } finally {
    await stop();
  }
});

test('without the health option the service is not served', async () => {
  const { xds, client, stop } = await serve(new SnapshotCache(), false);
  try {
    assert.equal(xds.health, undefined);
    await assert.rejects(unary(client, 'Check', {}), (e: any) => e.code === GrpcStatus.UNIMPLEMENTED);
  } finally {
    await stop();
  }
});

