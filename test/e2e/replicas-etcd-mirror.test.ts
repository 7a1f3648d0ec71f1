// examples/replicas/etcd-mirror.ts against a real etcd: the copy of a prefix a replica builds its snapshot from.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdMirror } from '../../examples/replicas/etcd-mirror.js';
import { waitFor } from '../support/envoy.js';
import { etcdSkipReason, startEtcd, type EtcdInstance } from '../support/etcd.js';

/** A mirror of `prefix` that records every change it reports. */
function mirrorOf(client: Etcd3, prefix: string): { mirror: EtcdMirror; changes: string[]; errors: string[] } {
  const changes: string[] = [];
  const errors: string[] = [];
  const mirror = new EtcdMirror(client, prefix, {
    onChange: (revision) => changes.push(revision),
    onError: (error, what) => errors.push(`${what}: ${error.message}`),
  });
  return { mirror, changes, errors };
}

const snapshotOf = (mirror: EtcdMirror): Record<string, string> => Object.fromEntries([...mirror.entries].sort());

void describe('the etcd mirror of a replica', { skip: etcdSkipReason() ?? false, timeout: 60_000 }, () => {
  let etcd: EtcdInstance;
  let writer: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    writer = new Etcd3({ hosts: etcd.url });
  });

  after(async () => {
    writer?.close();
    await etcd?.stop();
  });

  test('it reads the prefix, and only the prefix, before it reports a change', async () => {
    await writer.put('/m1/a').value('1');
    await writer.put('/m1/b').value('2');
    await writer.put('/m1x/outside').value('3');
    const client = new Etcd3({ hosts: etcd.url });
    const { mirror, changes } = mirrorOf(client, '/m1/');
    try {
      mirror.start();
      await waitFor(() => changes.length > 0, { what: 'the first read' });
      assert.deepEqual(snapshotOf(mirror), { '/m1/a': '1', '/m1/b': '2' });
      assert.equal(mirror.revision, changes[0]);
    } finally {
      await mirror.close();
      client.close();
    }
  });

  test("a transaction's puts and deletes arrive as one change", async () => {
    await writer.put('/m2/a').value('1');
    await writer.put('/m2/b').value('2');
    const client = new Etcd3({ hosts: etcd.url });
    const { mirror, changes } = mirrorOf(client, '/m2/');
    try {
      mirror.start();
      await waitFor(() => changes.length > 0, { what: 'the first read' });
      const result = await writer
        .if('/m2/a', 'Value', '==', '1')
        .then(writer.delete().key('/m2/a'), writer.put('/m2/b').value('20'), writer.put('/m2/c').value('30'))
        .commit();
      assert.ok(result.succeeded);
      await waitFor(() => mirror.revision === result.header.revision, { what: 'the transaction in the mirror' });
      assert.equal(changes.length, 2, 'the first read, then the transaction at once');
      assert.deepEqual(snapshotOf(mirror), { '/m2/b': '20', '/m2/c': '30' });
    } finally {
      await mirror.close();
      client.close();
    }
  });

  test('when etcd goes away and comes back, the mirror keeps its copy and follows the changes made after', async () => {
    await writer.put('/m3/a').value('1');
    const client = new Etcd3({ hosts: etcd.url });
    const { mirror, changes, errors } = mirrorOf(client, '/m3/');
    try {
      mirror.start();
      await waitFor(() => changes.length > 0, { what: 'the first read' });
      await etcd.restart();
      assert.deepEqual(snapshotOf(mirror), { '/m3/a': '1' }, 'the copy outlives the outage');
      const revision = (await writer.put('/m3/b').value('2').exec()).header.revision;
      await waitFor(() => mirror.revision === revision, { timeoutMs: 20_000, what: `the change made after the restart (errors: ${errors.join('; ')})` });
      assert.deepEqual(snapshotOf(mirror), { '/m3/a': '1', '/m3/b': '2' });
    } finally {
      await mirror.close();
      client.close();
    }
  });
});
