// Proxyless gRPC through @grpc/grpc-js-xds (a real xDS client nobody here wrote) against the worker mode: the
// snapshots are set in this process, the client's ADS stream is served by a worker process, and its verdicts come
// back here. (A file of its own: grpc-js-xds keeps one client per process.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import type { NackEvent, XdsServer } from '../../src/server/index.js';
import { echoClient } from '../support/grpc-echo.js';
import { eventually, SERVICE, servedBy, startProxyless, type ProxylessFixture } from '../support/proxyless.js';

const NODE_ID = 'proxyless-workers';

const nacks: NackEvent[] = [];
let fixture: ProxylessFixture;
let cache: SnapshotCache;
let xds: XdsServer;

function snapshot(version: string, action: Record<string, unknown>, clusterExtra: Record<string, unknown> = {}): Snapshot {
  return fixture.snapshot(version, action, clusterExtra);
}

before(async () => {
  fixture = await startProxyless(NODE_ID, { workers: 2, callbacks: { onNack: (nack) => void nacks.push(nack) } });
  ({ cache, xds } = fixture);
});

after(() => fixture.close());

test('worker mode: proxyless calls follow the snapshots set here; a NACK is reported here once and traffic keeps flowing', async () => {
  await cache.setSnapshot(NODE_ID, snapshot('1', { cluster: 'backend-a' }));
  const client = echoClient(`xds:///${SERVICE}`);
  try {
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-a', 5]]);
    const served = (await xds.workers()).filter((w) => w.stats.streams > 0);
    assert.equal(served.length, 1, 'the client\'s ADS stream is held by one worker');

    await cache.setSnapshot(NODE_ID, snapshot('2', { weighted_clusters: { clusters: [{ name: 'backend-a', weight: 50 }, { name: 'backend-b', weight: 50 }] } }));
    await eventually(async () => (await servedBy(client, 20)).size === 2);

    // grpc-js-xds rejects lb policies it does not implement.
    await cache.setSnapshot(NODE_ID, snapshot('3', { cluster: 'backend-a' }, { lb_policy: 'MAGLEV' }));
    await eventually(() => nacks.some((n) => n.typeUrl === TypeUrl.Cluster && n.rejectedVersion === '3'));
    assert.match(nacks.find((n) => n.rejectedVersion === '3')!.errorDetail.message, /lb_policy/);
    assert.equal(cache.getStatusInfo(NODE_ID)?.types.get(TypeUrl.Cluster)?.lastNack?.version, '3', 'the verdict is in the status here');
    // The rejected version is not sent again: the client would NACK it again.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(nacks.filter((n) => n.typeUrl === TypeUrl.Cluster && n.rejectedVersion === '3').length, 1, 'one NACK of version 3');
    // The route of version 3 (to backend-a) is accepted; backend-a keeps its last good cluster and answers.
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-a', 5]]);

    await cache.setSnapshot(NODE_ID, snapshot('4', { cluster: 'backend-b' }));
    await eventually(async () => (await client.call()) === 'backend-b');
    assert.deepEqual([...(await servedBy(client, 5))], [['backend-b', 5]]);
  } finally {
    client.close();
  }
});
