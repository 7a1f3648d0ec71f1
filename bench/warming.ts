// What resending the endpoints of a changed cluster costs: one cluster of M changes (its endpoints do not) with
// N ADS streams connected, each behaving as Envoy does after a cluster update (SotW: ACK the clusters and repeat
// the last EDS request word for word; delta: ACK what comes).
//   node --conditions=xds-source --import tsx bench/warming.ts [--streams 1000] [--clusters 100] [--runs 3]
//
// Prints, per mode, the median over runs of: the time from setSnapshot until every stream has its clusters, until
// every stream also has the endpoints again (what ends Envoy's warming), and the bytes of endpoint responses per
// stream. Clients run in this process (over loopback gRPC) and decode only the envelope of each response.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Snapshot, SnapshotCache } from '../src/cache/index.js';
import { lookupType, TypeUrl } from '../src/resource/index.js';
import { createServer, methodPath, XDS_SERVICES } from '../src/server/index.js';
import { cluster, endpoints } from '../test/support/sample-resources.js';
import { DeltaStream, SotwStream, XdsTestClient } from '../test/support/xds-client.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
  },
});
const N = Number(values.streams);
const M = Number(values.clusters);
const RUNS = Number(values.runs);
const CHANNELS = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function snapshot(timeout: string): Snapshot {
  const names = Array.from({ length: M }, (_, i) => `c${i}`);
  return new Snapshot(
    timeout,
    {
      [TypeUrl.Cluster]: names.map((name, i) => cluster(name, { connect_timeout: i === 0 ? timeout : '5s' })),
      [TypeUrl.Endpoint]: names.map((name) => endpoints(name, 3)),
    },
    { versions: { [TypeUrl.Endpoint]: 'e1' } },
  );
}

/** Per stream: when it got the changed clusters and the endpoints after them, and the endpoint bytes. */
interface Seen {
  clustersAt: number | undefined;
  endpointsAt: number | undefined;
  endpointBytes: number;
}

async function run(mode: 'sotw' | 'delta'): Promise<{ clustersMs: number; endpointsMs: number; bytesPerStream: number }> {
  const cache = new SnapshotCache({ ads: true });
  const xds = createServer(cache, { maxResourceNames: 100_000 });
  const address = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
  // Each channel its own connection (grpc-js would otherwise share one among channels to the same address).
  const clients = Array.from({ length: CHANNELS }, () => new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  await cache.setSnapshot('fleet', snapshot('1s'));
  let updating = false;
  const seen: Seen[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const record: Seen = { clustersAt: undefined, endpointsAt: undefined, endpointBytes: 0 };
    seen.push(record);
    const client = clients[i % CHANNELS];
    ready.push(mode === 'sotw' ? sotwEnvoy(stream(client, false) as SotwStream, record, () => updating) : deltaEnvoy(stream(client, true) as DeltaStream, record, () => updating));
  }
  await Promise.all(ready);
  await new Promise((resolve) => setTimeout(resolve, 200));
  updating = true;
  const next = snapshot('2s');
  const start = performance.now();
  await cache.setSnapshot('fleet', next);
  const wait = async (done: () => boolean, ms: number): Promise<void> => {
    const deadline = performance.now() + ms;
    while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  };
  await wait(() => seen.every((s) => s.clustersAt !== undefined), 30_000);
  // Without the resend (an older server), no endpoints come: give up 3 s after the clusters.
  await wait(() => seen.every((s) => s.endpointsAt !== undefined), 3_000);
  const missing = seen.filter((s) => s.endpointsAt === undefined).length;
  if (missing > 0) console.warn(`  ${mode}: ${missing} of ${N} streams got no endpoints`);
  const clustersMs = Math.max(...seen.map((s) => (s.clustersAt ?? Infinity) - start));
  const endpointsMs = Math.max(...seen.map((s) => (s.endpointsAt ?? Infinity) - start));
  const bytesPerStream = seen.reduce((sum, s) => sum + s.endpointBytes, 0) / N;
  for (const client of clients) client.close();
  await xds.close({ deadlineMs: 500 });
  return { clustersMs, endpointsMs, bytesPerStream };
}

// The clients read only what they act on (type, version, nonce, names; not the resources' content), and the
// size of each response, so that the time measured is mostly the server's.
interface Light {
  type_url: string;
  version_info: string;
  nonce: string;
  names: string[];
  resources: never[];
  removed_resources: string[];
  system_version_info: string;
  bytes: number;
}

function lightDecoder(delta: boolean): (bytes: Buffer) => Light {
  const type = lookupType(delta ? TypeUrl.DeltaDiscoveryResponse : TypeUrl.DiscoveryResponse);
  return (bytes) => {
    const m = type.decode(bytes) as unknown as { type_url: string; version_info?: string; nonce: string; resources: { name?: string }[] };
    return {
      type_url: m.type_url,
      version_info: m.version_info ?? '',
      nonce: m.nonce,
      names: delta ? m.resources.map((r) => r.name ?? '') : [],
      resources: [],
      removed_resources: [],
      system_version_info: '',
      bytes: bytes.length,
    };
  };
}

const ADS = XDS_SERVICES.find((service) => service.typeUrl === undefined)!;

function stream(client: XdsTestClient, delta: boolean): SotwStream | DeltaStream {
  const method = delta ? ADS.methods.delta! : ADS.methods.sotw!;
  const call = client.client.makeBidiStreamRequest(methodPath(ADS.service, method), (b: Buffer) => b, lightDecoder(delta));
  return delta ? new DeltaStream(call, 'delta') : new SotwStream(call, 'sotw');
}

const names = Array.from({ length: M }, (_, i) => `c${i}`);

async function sotwEnvoy(s: SotwStream, seen: Seen, updating: () => boolean): Promise<void> {
  s.send({ node: { id: 'fleet' }, type_url: TypeUrl.Cluster });
  const clusters = await s.next(20_000);
  const eds = { type_url: TypeUrl.Endpoint, resource_names: names, version_info: '', response_nonce: '' };
  s.send(eds);
  s.ack(clusters);
  const held = await s.next(20_000);
  Object.assign(eds, { version_info: held.version_info, response_nonce: held.nonce });
  s.send(eds);
  void (async () => {
    for (;;) {
      const r = await s.next(60_000).catch(() => undefined);
      if (r === undefined || !updating()) return;
      if (r.type_url === TypeUrl.Cluster) {
        seen.clustersAt = performance.now();
        s.ack(r);
        s.send(eds); // what Envoy does: its last EDS request again
      } else {
        seen.endpointsAt = performance.now();
        seen.endpointBytes += (r as unknown as Light).bytes;
        s.ack(r, names);
      }
    }
  })();
}

async function deltaEnvoy(s: DeltaStream, seen: Seen, updating: () => boolean): Promise<void> {
  s.send({ node: { id: 'fleet' }, type_url: TypeUrl.Cluster });
  const clusters = await s.next(20_000);
  s.send({ type_url: TypeUrl.Endpoint, resource_names_subscribe: names });
  s.ack(clusters);
  s.ack(await s.next(20_000));
  void (async () => {
    for (;;) {
      const r = await s.next(60_000).catch(() => undefined);
      if (r === undefined || !updating()) return;
      if (r.type_url === TypeUrl.Cluster) seen.clustersAt = performance.now();
      else {
        seen.endpointsAt = performance.now();
        seen.endpointBytes += (r as unknown as Light).bytes;
      }
      s.ack(r);
    }
  })();
}

console.log(`one cluster of ${M} changes, its endpoints do not; ${N} ADS streams (median of ${RUNS} runs)`);
for (const mode of ['sotw', 'delta'] as const) {
  const results = [];
  for (let r = 0; r < RUNS; r++) results.push(await run(mode));
  const clusters = median(results.map((r) => r.clustersMs));
  const all = median(results.map((r) => r.endpointsMs));
  const bytes = median(results.map((r) => r.bytesPerStream));
  console.log(`  ${mode.padEnd(6)} clusters at every stream ${clusters.toFixed(0).padStart(6)} ms; endpoints again at every stream ${all.toFixed(0).padStart(6)} ms; endpoints sent per stream ${bytes.toFixed(0)} bytes`);
}
