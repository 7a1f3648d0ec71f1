// Codec benchmark: one DiscoveryResponse of 1,000 realistic Clusters, built three ways.
//   npm run bench            (or: node --import tsx bench/codec.ts [--clusters N] [--runs R])
// 1. re-encode from ProtoJSON objects per response (validate + encode every resource every time)
// 2. re-encode from parsed messages per response (what go-control-plane does: marshal per stream per update)
// 3. assemble from cached resource bytes (our hot path: encode once, then only copy bytes and add a nonce)
// Then what a resource costs when it enters a cache, once per version: encoding, and checking Envoy's field rules.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TypeUrl, encodeMessage, fromJson, lookupType } from '../src/resource/index.js';
import { validateEncoded } from '../src/resource/validate.js';
import { encodeAny, encodeDiscoveryResponseBody, withNonce } from '../src/resource/wire.js';
import { cluster } from '../test/support/sample-resources.js';

const { values } = parseArgs({ options: { clusters: { type: 'string', default: '1000' }, runs: { type: 'string', default: '15' } } });
const count = Number(values.clusters);
const runs = Number(values.runs);

const clusters = Array.from({ length: count }, (_, i) =>
  cluster(`cluster-${i}`, { eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: `svc-${i}` } }),
);
const responseType = lookupType(TypeUrl.DiscoveryResponse);
const clusterType = lookupType(TypeUrl.Cluster);

function fromObjects(nonce: string): Uint8Array {
  const anys = clusters.map((c) => ({ type_url: TypeUrl.Cluster, value: encodeMessage(TypeUrl.Cluster, c) }));
  return responseType.encode({ version_info: '1', resources: anys, type_url: TypeUrl.Cluster, nonce }).finish();
}

const parsed = clusters.map((c) => fromJson(TypeUrl.Cluster, c));
function fromMessages(nonce: string): Uint8Array {
  const anys = parsed.map((m) => ({ type_url: TypeUrl.Cluster, value: clusterType.encode(m).finish() }));
  return responseType.encode({ version_info: '1', resources: anys, type_url: TypeUrl.Cluster, nonce }).finish();
}

const cachedAnys = clusters.map((c) => encodeAny(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, c)));
let sharedBody: Buffer | undefined;
function fromCache(nonce: string): Uint8Array {
  // The body is shared by every stream that gets this response; each stream only adds its nonce.
  sharedBody ??= encodeDiscoveryResponseBody('1', cachedAnys, TypeUrl.Cluster);
  return withNonce(sharedBody, nonce);
}
function fromCacheUnshared(nonce: string): Uint8Array {
  return withNonce(encodeDiscoveryResponseBody('1', cachedAnys, TypeUrl.Cluster), nonce);
}

const variants: [string, (nonce: string) => Uint8Array][] = [
  ['re-encode from ProtoJSON objects', fromObjects],
  ['re-encode from parsed messages (go-control-plane style)', fromMessages],
  ['cached resource bytes, body assembled per response', fromCacheUnshared],
  ['cached resource bytes, body shared, nonce per stream', fromCache],
];

// Same output check: all variants must produce the same message.
const reference = Buffer.from(fromMessages('n'));
for (const [name, fn] of variants) {
  const out = responseType.decode(fn('n')) as unknown as { resources: unknown[] };
  if (out.resources.length !== count) throw new Error(`${name}: wrong resource count`);
}
console.log(`DiscoveryResponse with ${count} Clusters: ${reference.length} bytes; median of ${runs} runs (interleaved)`);

const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let warm = 0; warm < 3; warm++) for (const [, fn] of variants) fn('w');
for (let r = 0; r < runs; r++) {
  for (const [name, fn] of variants) {
    const start = performance.now();
    fn(`n${r}`);
    samples.get(name)!.push(performance.now() - start);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples.get(variants[1][0])!);
for (const [name] of variants) {
  const m = median(samples.get(name)!);
  console.log(`${name.padEnd(58)} ${m.toFixed(3).padStart(9)} ms   ${(base / m).toFixed(1).padStart(7)}x vs go-style`);
}

// Entering a cache, once per resource version: encode (shape checked), then Envoy's field rules on the bytes.
const clusterBytes = clusters.map((c) => encodeMessage(TypeUrl.Cluster, c));
const intake: [string, () => void][] = [
  ['encode (ProtoJSON -> bytes, shape checked)', () => clusters.forEach((c) => encodeMessage(TypeUrl.Cluster, c))],
  ["Envoy's field rules (validate.rules) on the bytes", () => clusterBytes.forEach((b, i) => validateEncoded(TypeUrl.Cluster, b, clusters[i].name ?? undefined))],
];
const intakeSamples = new Map<string, number[]>(intake.map(([name]) => [name, []]));
for (let warm = 0; warm < 3; warm++) for (const [, fn] of intake) fn();
for (let r = 0; r < runs; r++) {
  for (const [name, fn] of intake) {
    const start = performance.now();
    fn();
    intakeSamples.get(name)!.push(performance.now() - start);
  }
}
console.log(`\nentering a cache, per ${count} Clusters (median of ${runs} runs):`);
for (const [name] of intake) console.log(`${name.padEnd(58)} ${median(intakeSamples.get(name)!).toFixed(3).padStart(9)} ms`);
