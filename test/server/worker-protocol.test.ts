// What travels to a worker: each resource's bytes once, a snapshot set for many keys once, nothing encoded there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource, Snapshot } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { describeSnapshot, Holdings, rebuildSnapshot } from '../../src/server/worker-protocol.js';
import { cluster, endpoints } from '../support/sample-resources.js';

function snapshot(version: string, port: number): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Cluster]: [cluster('a'), cluster('b')],
    [TypeUrl.Endpoint]: [endpoints('a', 2, 8080), endpoints('b', 2, port)],
  });
}

test('a worker is sent the bytes of the resources it lacks, and only those', () => {
  const primary = new Holdings<true, true>();
  const first = describeSnapshot(snapshot('1', 8080), 1, primary);
  primary.assign('k', 1);
  assert.equal(first.bytes.length, 4, 'everything is new');
  const second = describeSnapshot(snapshot('2', 9090), 2, primary);
  primary.assign('k', 2);
  assert.equal(second.bytes.length, 1, 'one endpoint assignment changed: its bytes alone travel');
  assert.equal(primary.resources, 4, 'the replaced assignment is dropped with the snapshot that used it');
  assert.equal(primary.snapshots, 1);
});

test('a worker rebuilds the snapshot from bytes without encoding, with the same versions, hashes and bodies', () => {
  const original = snapshot('1', 8080);
  const primary = new Holdings<true, true>();
  const worker = new Holdings<Snapshot, EncodedResource>();
  const message = structuredClone(describeSnapshot(original, 1, primary));
  primary.assign('k', 1);
  const encodes = EncodedResource.encodeCount;
  const rebuilt = rebuildSnapshot(message, 1, worker);
  worker.assign('k', 1);
  assert.equal(EncodedResource.encodeCount, encodes, 'nothing encoded');
  for (const typeUrl of original.typeUrls()) {
    assert.equal(rebuilt.getVersion(typeUrl), original.getVersion(typeUrl));
    const mine = rebuilt.getResources(typeUrl);
    for (const [name, r] of original.getResources(typeUrl)) {
      assert.equal(mine.get(name)?.hash, r.hash);
      assert.deepEqual(mine.get(name)?.any, r.any);
    }
  }
  // The next snapshot arrives with one resource's bytes: the others are taken from what the worker holds.
  const next = structuredClone(describeSnapshot(snapshot('2', 9090), 2, primary));
  primary.assign('k', 2);
  const again = rebuildSnapshot(next, 2, worker);
  worker.assign('k', 2);
  assert.equal(again.getResources(TypeUrl.Cluster).get('a'), rebuilt.getResources(TypeUrl.Cluster).get('a'), 'an unchanged resource is the one already held');
  assert.equal(worker.resources, primary.resources);
});
