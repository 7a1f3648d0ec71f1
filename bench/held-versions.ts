// What reading a reconnecting delta stream's `initial_resource_versions` costs, read anew per request and read
// through a server's HeldVersions table.
//   node --conditions=xds-source --import tsx bench/held-versions.ts [--runs 9] [--requests 500] [--entries 1000]
//
// Builds `--requests` DeltaDiscoveryRequests that each hold the same `--entries` entries (Envoy-like names and
// content-hash versions), every request in its own random order as real Envoys send them, decodes them, and times
// per request (medians of `--runs` runs): reading the entries into a new map, and asking a table that already
// holds a map of them (each request checked byte for byte). It then keeps one map per request both ways and
// reports the heap they take, as 1,000 reconnected streams would.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { lookupType, TypeUrl } from '../src/resource/index.js';
import { HeldVersions, type VersionEntries } from '../src/server/held-versions.js';
import { decodeDeltaDiscoveryRequest, UndecodableRequest } from '../src/server/messages.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '9' }, requests: { type: 'string', default: '500' }, entries: { type: 'string', default: '1000' } },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const ENTRIES = Number(values.entries);

const delta = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const held = Array.from({ length: ENTRIES }, (_, i) => {
  const name = `cluster-${String(i).padStart(5, '0')}`;
  return [name, createHash('sha256').update(name).digest('base64url').slice(0, 22)] as const;
});

function shuffled<T>(items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const requests: VersionEntries[] = Array.from({ length: REQUESTS }, () => {
  const bytes = delta.encode(delta.fromObject({ type_url: TypeUrl.Cluster, initial_resource_versions: Object.fromEntries(shuffled(held)) })).finish();
  const decoded = decodeDeltaDiscoveryRequest(bytes);
  if (decoded instanceof UndecodableRequest || decoded.versionEntries === undefined) throw new Error('not a request with versions');
  return decoded.versionEntries;
});

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Microseconds per request, median of the runs. */
function time(read: (entries: VersionEntries) => ReadonlyMap<string, string>): number {
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    for (const entries of requests) if (read(entries).size !== ENTRIES) throw new Error('wrong map');
    runs.push(((performance.now() - start) * 1000) / REQUESTS);
  }
  return median(runs);
}

/** Heap bytes taken by keeping what `read` gives for every request. */
function heapKept(read: (entries: VersionEntries) => ReadonlyMap<string, string>): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const kept = requests.map(read);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (kept.length !== REQUESTS) throw new Error('lost');
  return after - before;
}

const table = new HeldVersions();
const anew = (entries: VersionEntries): ReadonlyMap<string, string> => entries.read();
const shared = (entries: VersionEntries): ReadonlyMap<string, string> => table.versions(entries);
// Warm up both ways (the first request through the table reads and holds the map).
time(anew);
time(shared);
const rows = [
  ['read anew into a map', time(anew)],
  ['through HeldVersions (held)', time(shared)],
] as const;
console.log(`${REQUESTS} requests of ${ENTRIES} entries, each in its own order; median of ${RUNS} runs:`);
for (const [what, us] of rows) console.log(`  ${what.padEnd(30)} ${us.toFixed(1)} µs per request`);
if ((globalThis as { gc?: () => void }).gc === undefined) {
  console.log('  (heap kept: run with --expose-gc to measure it)');
} else {
  console.log(`  heap kept for ${REQUESTS} streams: ${(heapKept(anew) / 1e6).toFixed(1)} MB read anew, ${(heapKept(shared) / 1e6).toFixed(1)} MB shared`);
}
console.log(`  table: ${JSON.stringify(table.stats)}`);
