// Cache benchmark: time, memory and event-loop delay of the caches' work.
//   node --expose-gc --import tsx bench/cache.ts [--resources 10000] [--nodes 100] [--watches 1000] [--runs 5]
//
// 1. Snapshot of N clusters + N ClusterLoadAssignments: build (validate + encode once), sync and in slices.
// 2. setSnapshot answering every node's CDS (wildcard) and EDS (all N names) watches, then building each distinct
//    response body once (what the server does on the first write).
// 3. LinearCache of N ClusterLoadAssignments with W watches (each on 10 names, 1% wildcard): one updateResource.
// Each is run several times; medians are printed. Event-loop delay: perf_hooks' monitorEventLoopDelay while the
// work runs (max = the longest the loop was held).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LinearCache, Snapshot, SnapshotCache, type Response, type SnapshotResources, type WatchRequest } from '../src/cache/index.js';
import { TypeUrl } from '../src/resource/index.js';
import { cluster, endpoints } from '../test/support/sample-resources.js';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    nodes: { type: 'string', default: '100' },
    watches: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
  },
});
const N = Number(values.resources);
const NODES = Number(values.nodes);
const WATCHES = Number(values.watches);
const RUNS = Number(values.runs);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.warn('run with node --expose-gc for memory numbers');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** JS heap plus Buffer memory (encoded bytes live outside the JS heap), after a full GC. */
function heapMB(): number {
  gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 2 ** 20;
}

/** Runs `work` while sampling the event loop; returns elapsed ms and the loop's max and p99 delay in ms. */
async function measure(work: () => unknown): Promise<{ ms: number; maxDelay: number; p99Delay: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // The histogram records from its second tick on: let it start before the work does.
  await new Promise((r) => setTimeout(r, 20));
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { ms, maxDelay: h.max / 1e6, p99Delay: h.percentile(99) / 1e6 };
}

const fmt = (x: number) => x.toFixed(x < 10 ? 2 : 1);
const rows: [string, string][] = [];
function report(label: string, samples: Record<string, number[]>): void {
  const parts = Object.entries(samples).map(([k, xs]) => `${k} ${fmt(median(xs))}`);
  rows.push([label, parts.join(', ')]);
  console.log(`${label}: ${parts.join(', ')}`);
}

const resources = (version: number): SnapshotResources => ({
  [TypeUrl.Cluster]: Array.from({ length: N }, (_, i) =>
    cluster(`c${i}`, { eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: `c${i}` } }),
  ),
  [TypeUrl.Endpoint]: Array.from({ length: N }, (_, i) => endpoints(`c${i}`, 3, 8000 + (version % 2))),
});

console.log(`node ${process.version}; ${N} clusters + ${N} ClusterLoadAssignments; ${NODES} nodes; ${RUNS} runs (medians)`);

// 1. Building the snapshot. Memory first, once, in a clean heap (later runs leave garbage that blurs it).
{
  const input = resources(0);
  const before = heapMB();
  const snapshot = new Snapshot('mem', input);
  const retained = heapMB() - before;
  console.log(`heap retained by a snapshot of ${2 * N} resources (heap + buffers; inputs excluded): ${fmt(retained)} MB`);
  rows.push(['snapshot heap MB', fmt(retained)]);
  void snapshot.version;
}
{
  const sync = { ms: [] as number[], maxDelayMs: [] as number[] };
  const sliced = { ms: [] as number[], maxDelayMs: [] as number[], p99DelayMs: [] as number[] };
  let alive: Snapshot | undefined;
  for (let run = 0; run < RUNS; run++) {
    const input = resources(run);
    alive = undefined;
    const a = await measure(() => (alive = new Snapshot(String(run), input)));
    sync.ms.push(a.ms);
    sync.maxDelayMs.push(a.maxDelay);
    alive = undefined;
    const b = await measure(async () => (alive = await Snapshot.create(String(run), input)));
    alive = undefined;
    sliced.ms.push(b.ms);
    sliced.maxDelayMs.push(b.maxDelay);
    sliced.p99DelayMs.push(b.p99Delay);
  }
  void alive;
  report(`new Snapshot (sync): validate + encode ${2 * N} resources`, sync);
  report('await Snapshot.create (5 ms slices)', sliced);
}

// 2. setSnapshot fan-out.
async function fanOut(run: number, result: Record<string, number[]>): Promise<void> {
  const names = Array.from({ length: N }, (_, i) => `c${i}`);
  const cache = new SnapshotCache({ ads: true });
  const first = new Snapshot('v0', resources(run));
  const next = new Snapshot('v1', resources(run + 1));
  const answers: Response[] = [];
  for (let n = 0; n < NODES; n++) {
    const node = { id: `node-${n}` };
    await cache.setSnapshot(node.id, first);
    const base = { node, versionInfo: 'v0', responseNonce: 'n0' };
    const cds: WatchRequest = { ...base, typeUrl: TypeUrl.Cluster, resourceNames: [], wildcard: true };
    const eds: WatchRequest = { ...base, typeUrl: TypeUrl.Endpoint, resourceNames: names, wildcard: false };
    cache.createWatch(cds, (r) => answers.push(r));
    cache.createWatch(eds, (r) => answers.push(r));
  }
  const m = await measure(() => Promise.all(Array.from({ length: NODES }, (_, n) => cache.setSnapshot(`node-${n}`, next))));
  if (answers.length !== 2 * NODES) throw new Error(`expected ${2 * NODES} answers, got ${answers.length}`);
  const distinct = new Set(answers);
  const start = performance.now();
  for (const r of answers) r.body();
  result['bodyMs'].push(performance.now() - start);
  result['bodyMB'].push([...distinct].reduce((sum, r) => sum + r.body().length, 0) / 2 ** 20);
  result['ms'].push(m.ms);
  result['maxDelayMs'].push(m.maxDelay);
  result['distinctResponses'].push(distinct.size);
}
{
  const result: Record<string, number[]> = { ms: [], maxDelayMs: [], bodyMs: [], bodyMB: [], distinctResponses: [] };
  for (let run = 0; run < RUNS; run++) await fanOut(run, result);
  report(`setSnapshot to ${NODES} nodes at once, each with a CDS wildcard and an EDS watch of all ${N} names`, {
    ms: result['ms'],
    maxDelayMs: result['maxDelayMs'],
    distinctResponses: result['distinctResponses'],
  });
  report('  then body() of every answer (each distinct body built once)', { ms: result['bodyMs'], bodiesMB: result['bodyMB'] });
}

// 3. LinearCache.updateResource.
{
  const result = { usPerUpdate: [] as number[], maxDelayMs: [] as number[], answeredPerUpdate: [] as number[], heapMB: [] as number[] };
  const wildcardCount = Math.max(1, Math.floor(WATCHES / 100));
  for (let run = 0; run < RUNS; run++) {
    const before = heapMB();
    const cache = new LinearCache(TypeUrl.Endpoint, {
      initialResources: new Map(Array.from({ length: N }, (_, i) => [`c${i}`, endpoints(`c${i}`, 3)] as const)),
    });
    let answered = 0;
    const open = (i: number): void => {
      const wildcard = i < wildcardCount;
      const resourceNames = wildcard ? [] : Array.from({ length: 10 }, (_, k) => `c${(i * 10 + k) % N}`);
      cache.createWatch({ node: { id: `n${i}` }, typeUrl: TypeUrl.Endpoint, resourceNames, wildcard, versionInfo: cache.version, responseNonce: 'n' }, () => {
        answered++;
        // The client ACKs and the server opens the next watch, as on a live stream.
        queueMicrotask(() => open(i));
      });
    };
    for (let i = 0; i < WATCHES; i++) open(i);
    const updates = 2000;
    const changes = Array.from({ length: updates }, (_, u) => endpoints(`c${(u * 37) % N}`, 3, 9000 + run * updates + u));
    // Warm up the JIT, then measure.
    for (let u = 0; u < 200; u++) cache.updateResource(`c${u}`, endpoints(`c${u}`, 3, 7000 + run));
    await new Promise((r) => setImmediate(r));
    answered = 0;
    let busy = 0;
    const m = await measure(async () => {
      for (let u = 0; u < updates; u++) {
        const start = performance.now();
        cache.updateResource(`c${(u * 37) % N}`, changes[u]);
        // The re-opened watches (queued microtasks) run before this await resumes: their cost is counted.
        await Promise.resolve();
        busy += performance.now() - start;
        // Updates arrive from I/O in real life: let the loop turn between them.
        await new Promise((r) => setImmediate(r));
      }
    });
    const ms = { ms: busy };
    result.usPerUpdate.push((ms.ms * 1000) / updates);
    result.maxDelayMs.push(m.maxDelay);
    result.answeredPerUpdate.push(answered / updates);
    result.heapMB.push(heapMB() - before);
  }
  report(`LinearCache.updateResource (${N} resources, ${WATCHES} watches, ${wildcardCount} wildcard)`, result);
}
