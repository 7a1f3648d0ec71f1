// LinearCache.setResources: what one update of many resources costs with many watches subscribed by name.
//   node --conditions=xds-source --import tsx bench/linear-cache.ts [--changes 10000] [--watches 1000] [--runs 5]
//
// The cache holds 2 × C ClusterLoadAssignments; W watches (delta or SotW) each subscribe to 10 names of the first
// half. One setResources then changes C resources, either the second half (no watch cares: nothing wakes) or the
// first half (every watch wakes), and is timed as the synchronous call it is (answers included; resources are
// encoded beforehand). Medians of the runs.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EncodedResource, LinearCache } from '../src/cache/index.js';
import { TypeUrl } from '../src/resource/index.js';
import { endpoints } from '../test/support/sample-resources.js';

const { values } = parseArgs({
  options: {
    changes: { type: 'string', default: '10000' },
    watches: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
  },
});
const C = Number(values.changes);
const W = Number(values.watches);
const RUNS = Number(values.runs);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

type Kind = 'none' | 'delta' | 'sotw';

function run(kind: Kind, touched: 'watched' | 'unwatched', runIndex: number): { ms: number; answered: number } {
  const names = Array.from({ length: 2 * C }, (_, i) => `c${i}`);
  const cache = new LinearCache(TypeUrl.Endpoint, { initialResources: new Map(names.map((name) => [name, endpoints(name, 2)] as const)) });
  let answered = 0;
  const count = kind === 'none' ? 0 : W;
  for (let i = 0; i < count; i++) {
    const subscribed = Array.from({ length: 10 }, (_, k) => `c${(i * 10 + k) % C}`);
    const node = { id: `n${i}` };
    if (kind === 'delta') {
      const known = new Map<string, string>();
      cache.createDeltaWatch({ node, typeUrl: TypeUrl.Endpoint, subscribed: new Set(subscribed), wildcard: false, known, newlySubscribed: subscribed, responseNonce: '' }, (response) => {
        // The client now holds what it was sent: park the next watch with those versions, as a live stream does.
        for (const r of response.resources) known.set(r.name, r.hash);
        cache.createDeltaWatch({ node, typeUrl: TypeUrl.Endpoint, subscribed: new Set(subscribed), wildcard: false, known, newlySubscribed: [], responseNonce: '1' }, () => answered++);
      });
    } else {
      cache.createWatch({ node, typeUrl: TypeUrl.Endpoint, resourceNames: subscribed, wildcard: false, versionInfo: cache.version, responseNonce: '1' }, () => answered++);
    }
  }
  const offset = touched === 'watched' ? 0 : C;
  // Encoded before the clock starts: the cost measured is the cache's, not protobuf's.
  const next = new Map(names.map((name, i) => [name, EncodedResource.encode(TypeUrl.Endpoint, endpoints(name, 2, i >= offset && i < offset + C ? 9000 + runIndex : 8080))] as const));
  const start = performance.now();
  cache.setResources(next);
  return { ms: performance.now() - start, answered };
}

console.log(`LinearCache.setResources of ${C} changes, ${2 * C} resources, watches on 10 names each (median of ${RUNS} runs)`);
run('delta', 'watched', 0); // warm-up of the whole path
for (const [kind, touched] of [['none', 'unwatched'], ['delta', 'unwatched'], ['delta', 'watched'], ['sotw', 'unwatched'], ['sotw', 'watched'], ['none', 'unwatched']] as const) {
  const ms: number[] = [];
  let answered = 0;
  run(kind, touched, 0); // warm-up
  for (let r = 1; r <= RUNS; r++) {
    const result = run(kind, touched, r);
    ms.push(result.ms);
    answered = result.answered;
  }
  const label = kind === 'none' ? 'no watches' : `${W} ${kind} watches, changes ${touched === 'watched' ? 'wake all' : 'wake none'}`;
  console.log(`  ${label.padEnd(44)} ${median(ms).toFixed(1).padStart(8)} ms   answered ${answered}`);
}
