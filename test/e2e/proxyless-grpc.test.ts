// Proxyless gRPC through @grpc/grpc-js-xds (a real xDS client nobody here wrote): its calls reach echo servers
// through the routes, clusters and endpoints our server sends it over SotW ADS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { echoClient } from '../support/grpc-echo.js';
import { eventually, SERVICE, servedBy, startProxyless, type ProxylessFixture } from '../support/proxyless.js';

const NODE_ID = 'proxyless-test';

const nacks: { typeUrl: string; message: string; version: string }[] = [];
const responsesByVersion = new Map<string, number>();
let fixture: ProxylessFixture;
let cache: SnapshotCache;

function snapshot(version: string, action: Record<string, unknown>, clusterExtra: Record<string, unknown> = {}): Snapshot {
  return fixture.snapshot(version, action, clusterExtra);
}

before(async () => {
  fixture = await startProxyless(NODE_ID, {
    callbacks: {
      onNack: (nack) => void nacks.push({ typeUrl: nack.typeUrl, message: nack.errorDetail.message, version: nack.rejectedVersion ?? '' }),
      onStreamResponse: (_id, _request, response) => {
        const key = `${response.typeUrl} ${response.version}`;
        responsesByVersion.set(key, (responsesByVersion.get(key) ?? 0) + 1);
      },
    },
  });
  ({ cache } = fixture);
});

after(() => fixture.close());

test('proxyless gRPC calls reach the cluster our snapshot routes to, and follow a snapshot change', async () => {
  await cache.setSnapshot(NODE_ID, snapshot('1', { cluster: 'backend-a' }));
  const client = echoClient(`xds:///${SERVICE}`);
  try {
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-a', 5]]);
    await cache.setSnapshot(NODE_ID, snapshot('2', { cluster: 'backend-b' }));
    await eventually(async () => (await client.call()) === 'backend-b');
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-b', 5]]);
  } finally {
    client.close();
  }
});

test('a weighted route splits proxyless traffic between two clusters', async () => {
  await cache.setSnapshot(NODE_ID, snapshot('3', { weighted_clusters: { clusters: [{ name: 'backend-a', weight: 50 }, { name: 'backend-b', weight: 50 }] } }));
  const client = echoClient(`xds:///${SERVICE}`);
  try {
    await eventually(async () => (await servedBy(client, 20)).size === 2);
    const counts = await servedBy(client, 200);
    assert.ok((counts.get('backend-a') ?? 0) > 40 && (counts.get('backend-b') ?? 0) > 40, `both get a share: ${JSON.stringify([...counts])}`);
  } finally {
    client.close();
  }
});

test('an invalid cluster is NACKed, reported with the client\'s message, not resent, and traffic stays on the last good config', async () => {
  await cache.setSnapshot(NODE_ID, snapshot('4', { cluster: 'backend-a' }));
  const client = echoClient(`xds:///${SERVICE}`);
  try {
    await eventually(async () => (await client.call()) === 'backend-a');
    // grpc-js-xds rejects lb policies it does not implement.
    await cache.setSnapshot(NODE_ID, snapshot('5', { cluster: 'backend-a' }, { lb_policy: 'MAGLEV' }));
    await eventually(() => nacks.some((n) => n.typeUrl === TypeUrl.Cluster && n.version === '5'));
    const nack = nacks.find((n) => n.version === '5')!;
    assert.match(nack.message, /lb_policy/);
    const status = cache.getStatusInfo(NODE_ID);
    assert.match(status?.types.get(TypeUrl.Cluster)?.lastNack?.errorDetail.message ?? '', /lb_policy/);
    // Calls keep flowing on version 4's configuration.
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-a', 5]]);
    // The rejected version is sent once, never again in a loop.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(responsesByVersion.get(`${TypeUrl.Cluster} 5`), 1);
    // A fixed version moves on.
    await cache.setSnapshot(NODE_ID, snapshot('6', { cluster: 'backend-b' }));
    await eventually(async () => (await client.call()) === 'backend-b');
  } finally {
    client.close();
  }
});
