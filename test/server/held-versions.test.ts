// The table of initial_resource_versions maps: equal content, in any order, reads to one shared map; anything
// else reads anew; what it holds is bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lookupType, TypeUrl } from '../../src/resource/index.js';
import { HeldVersions, MIN_SHARED_ENTRIES, VersionEntries } from '../../src/server/held-versions.js';
import { decodeDeltaDiscoveryRequest, UndecodableRequest } from '../../src/server/messages.js';

const DELTA = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');

/** The entries of a request holding `versions` (in the order given), as the decoder finds them. */
function entriesOf(versions: readonly (readonly [string, string])[]): VersionEntries {
  // protobuf.js writes map entries in the object's key order: build the object in the order wanted.
  const object: Record<string, string> = {};
  for (const [name, version] of versions) object[name] = version;
  const bytes = DELTA.encode(DELTA.fromObject({ type_url: TypeUrl.Cluster, initial_resource_versions: object })).finish();
  const decoded = decodeDeltaDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
  return decoded.versionEntries ?? new VersionEntries(bytes, new Uint32Array(0));
}

function fleet(count: number, version = (i: number): string => `h${i}`): [string, string][] {
  return Array.from({ length: count }, (_, i) => [`cluster-${String(i).padStart(5, '0')}`, version(i)]);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('the same entries in another order read to the same map, which holds them', () => {
  const table = new HeldVersions();
  const entries = fleet(200);
  const first = table.versions(entriesOf(shuffled(entries, 1)));
  const second = table.versions(entriesOf(shuffled(entries, 2)));
  assert.equal(second, first, 'shared');
  assert.deepEqual([...second].sort(), entries);
  assert.deepEqual({ ...table.stats, bytes: 0 }, { hits: 1, misses: 1, maps: 1, entries: 200, bytes: 0 });
  assert.ok(table.stats.bytes > 200 * 10);
});

test('one version different, one name different or one entry fewer: a map of its own, read from the request', () => {
  const table = new HeldVersions();
  const entries = fleet(100);
  const base = table.versions(entriesOf(entries));
  const variants = [
    fleet(100, (i) => (i === 57 ? 'h-other' : `h${i}`)),
    entries.map(([name, version], i): [string, string] => [i === 3 ? 'cluster-x0003' : name, version]),
    entries.slice(1),
  ];
  for (const variant of variants) {
    const read = table.versions(entriesOf(shuffled(variant, 7)));
    assert.notEqual(read, base);
    assert.deepEqual([...read].sort(), variant.slice().sort());
  }
  assert.equal(table.stats.hits, 0);
  assert.deepEqual([...table.versions(entriesOf(shuffled(entries, 9)))].sort(), entries, 'the first still held');
});

test(`fewer than ${MIN_SHARED_ENTRIES} entries are read anew every time`, () => {
  const table = new HeldVersions();
  const entries = fleet(MIN_SHARED_ENTRIES - 1);
  const first = table.versions(entriesOf(entries));
  const second = table.versions(entriesOf(entries));
  assert.notEqual(second, first);
  assert.deepEqual([...second], entries);
  assert.deepEqual(table.stats, { hits: 0, misses: 0, maps: 0, entries: 0, bytes: 0 });
});

test('a name sent twice: the later entry wins, as in a protobuf map, and such a request is not held', () => {
  const table = new HeldVersions();
  const entries = fleet(40);
  const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const once = type.encode(type.fromObject({ type_url: TypeUrl.Cluster, initial_resource_versions: Object.fromEntries(entries) })).finish();
  // The same entries followed by a second entry for cluster-00000 (field 5: tag 42).
  const entry = Buffer.from([10, 13, ...Buffer.from('cluster-00000'), 18, 3, ...Buffer.from('h-2')]);
  const twice = Buffer.concat([Buffer.from(once), Buffer.from([42, entry.length]), entry]);
  for (let i = 0; i < 2; i++) {
    const decoded = decodeDeltaDiscoveryRequest(twice);
    if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
    const read = table.versions(decoded.versionEntries!);
    assert.equal(read.size, 40);
    assert.equal(read.get('cluster-00000'), 'h-2');
  }
  assert.equal(table.stats.maps, 0);
});

test('the table holds at most its bound of entries, the least recently used map leaving first', () => {
  const table = new HeldVersions({ maxEntries: 250 });
  const a = fleet(100, (i) => `a${i}`);
  const b = fleet(100, (i) => `b${i}`);
  const c = fleet(100, (i) => `c${i}`);
  const mapA = table.versions(entriesOf(a));
  table.versions(entriesOf(b));
  assert.equal(table.versions(entriesOf(shuffled(a, 3))), mapA, 'a used again: now the most recent');
  table.versions(entriesOf(c));
  assert.deepEqual({ maps: table.stats.maps, entries: table.stats.entries }, { maps: 2, entries: 200 });
  assert.equal(table.versions(entriesOf(shuffled(a, 4))), mapA, 'a kept');
  const hits = table.stats.hits;
  table.versions(entriesOf(b));
  assert.equal(table.stats.hits, hits, 'b left');
  assert.ok(table.stats.entries <= 250);
  const none = new HeldVersions({ maxEntries: 0 });
  none.versions(entriesOf(a));
  assert.deepEqual(none.stats, { hits: 0, misses: 0, maps: 0, entries: 0, bytes: 0 }, 'a bound of 0 holds nothing');
});

test('the table holds at most its bound of bytes, and requests of long entries are read without it', () => {
  const table = new HeldVersions({ maxBytes: 3_000 });
  const a = fleet(100, (i) => `a${i}`);
  const b = fleet(100, (i) => `b${i}`);
  table.versions(entriesOf(a));
  const bytesOfA = table.stats.bytes;
  assert.ok(bytesOfA > 1_500 && bytesOfA <= 3_000, `${bytesOfA}`);
  const mapB = table.versions(entriesOf(b));
  assert.deepEqual({ maps: table.stats.maps, entries: table.stats.entries }, { maps: 1, entries: 100 }, 'a left for b');
  assert.ok(table.stats.bytes <= 3_000, `${table.stats.bytes}`);
  assert.equal(table.versions(entriesOf(shuffled(b, 5))), mapB);
  // Names and versions are short: entries of 2 KB each are not worth holding (a client could fill the table).
  const long = fleet(40, (i) => `${i}`.padEnd(2000, 'x'));
  const first = table.versions(entriesOf(long));
  const second = table.versions(entriesOf(long));
  assert.notEqual(second, first);
  assert.deepEqual([...second], long);
  assert.ok(table.stats.bytes <= 3_000);
});

test('an entry that runs past its end is an error saying so, whether or not a map like it is held', () => {
  const table = new HeldVersions();
  const entries = fleet(40);
  table.versions(entriesOf(entries));
  const good = entriesOf(entries);
  // The first entry's key claims more bytes than the entry has.
  const bytes = Uint8Array.from(good.bytes);
  bytes[good.spans[0] + 1] = 60;
  assert.throws(() => table.versions(new VersionEntries(bytes, good.spans)), /runs past its end/);
});

test("real Envoy 1.40's reconnect requests: two Envoys, four connections, each order its own, one map per type", () => {
  // Captured by `npm run bench:capture-envoy`: envoy-delta-a and envoy-delta-b reconnecting after control-plane
  // restarts, each request's initial_resource_versions in that connection's own order (30 entries per type).
  const url = new URL('../../bench/fleet/fixtures/envoy-1.40/requests.json', import.meta.url);
  const requests = JSON.parse(readFileSync(url, 'utf8')) as { envoy: string; mode: string; connection: number; type: string; bytes: string }[];
  const table = new HeldVersions({ minEntries: 1 });
  for (const type of ['CDS', 'EDS']) {
    const reads = requests
      .filter((r) => r.mode === 'delta' && r.type === type)
      .map((r) => {
        const decoded = decodeDeltaDiscoveryRequest(Buffer.from(r.bytes, 'base64'));
        if (decoded instanceof UndecodableRequest) assert.fail(decoded.message);
        return { r, entries: decoded.versionEntries };
      })
      .filter((x): x is { r: (typeof requests)[number]; entries: VersionEntries } => x.entries !== undefined);
    assert.equal(reads.length, 4, `${type}: four reconnects`);
    assert.deepEqual(new Set(reads.map((x) => x.r.envoy)), new Set(['envoy-delta-a', 'envoy-delta-b']));
    const orders = reads.map(({ entries }) => Buffer.from(entries.bytes.subarray(entries.spans[0], entries.spans.at(-1))).toString('base64'));
    assert.equal(new Set(orders).size, 4, `${type}: no two requests have the same bytes`);
    const maps = reads.map(({ entries }) => table.versions(entries));
    assert.equal(maps[0].size, 30);
    for (const map of maps.slice(1)) assert.equal(map, maps[0], `${type}: the map read once is shared`);
    assert.deepEqual([...maps[0]].sort(), [...reads[3].entries.read()].sort());
  }
  assert.deepEqual({ ...table.stats, bytes: 0 }, { hits: 6, misses: 2, maps: 2, entries: 60, bytes: 0 });
});
