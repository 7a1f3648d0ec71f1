// Request decode benchmark: what one discovery request costs the server to read, with the node a real Envoy sends.
//   node --conditions=xds-source --import tsx bench/request-decode.ts [--runs 7] [--requests 2000] [--names 100]
//
// 1. Starts Envoy 1.40 (set_node_on_first_message_only: false, Envoy's default) against a bare gRPC server on
//    loopback, once over SotW ADS and once over delta ADS, and keeps the node of each request it sends (CDS and
//    LDS, about 60 KB each). It prints whether the node's bytes repeat from request to request: they need not,
//    since Envoy writes the maps inside its node in hash order.
// 2. Builds ACK-like requests around the node of Envoy's last request (a nonce, a version, `--names` EDS names)
//    and times what the server does per request after a stream's first: decoding the request and checking that
//    its node id is the stream's.
// Medians of `--runs` runs of `--requests` requests each, per request in microseconds. The script uses only the
// request decoders of src/server/messages.ts, so it runs unchanged against older versions of them.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { encodeMessage, lookupType, TypeUrl } from '../src/resource/index.js';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest, UndecodableRequest } from '../src/server/messages.js';
import { adsBootstrap } from '../test/support/ads-envoy.js';
import { startEnvoy } from '../test/support/envoy.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, requests: { type: 'string', default: '2000' }, names: { type: 'string', default: '100' } },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const NAMES = Number(values.names);

type Kind = 'sotw' | 'delta';
const nodeType = lookupType('envoy.config.core.v3.Node');

/** The node bytes of the requests Envoy sends on a SotW and on a delta ADS stream, in order. */
async function captureEnvoyNodes(): Promise<Record<Kind, Buffer[]>> {
  const nodes: Record<Kind, Buffer[]> = { sotw: [], delta: [] };
  const server = new Server();
  const keep = (kind: Kind) => (call: ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', (bytes: Buffer) => {
      const type = lookupType(kind === 'sotw' ? TypeUrl.DiscoveryRequest : TypeUrl.DeltaDiscoveryRequest);
      const node = (type.decode(bytes) as unknown as { node?: object | null }).node;
      // The bytes as Envoy wrote them (re-encoding would reorder the maps): the request's node field.
      if (node) nodes[kind].push(nodeField(bytes, kind === 'sotw' ? 2 : 1));
    });
    call.on('error', () => undefined);
  };
  const pass = (b: Buffer): Buffer => b;
  const raw = { requestStream: true, responseStream: true, requestDeserialize: pass, requestSerialize: pass, responseSerialize: pass, responseDeserialize: pass };
  const service = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
  server.addService(
    {
      sotw: { ...raw, path: `/${service}/StreamAggregatedResources`, originalName: 'StreamAggregatedResources' },
      delta: { ...raw, path: `/${service}/DeltaAggregatedResources`, originalName: 'DeltaAggregatedResources' },
    },
    { sotw: keep('sotw'), delta: keep('delta') },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  for (const apiType of ['GRPC', 'DELTA_GRPC'] as const) {
    const kind: Kind = apiType === 'GRPC' ? 'sotw' : 'delta';
    const bootstrap = adsBootstrap({ nodeId: 'envoy-bench', xdsPort: port, apiType });
    // Envoy's default: the node on every request.
    (bootstrap['dynamic_resources'] as { ads_config: Record<string, unknown> }).ads_config['set_node_on_first_message_only'] = false;
    const envoy = await startEnvoy({ bootstrap, ready: 'admin', name: `decode-${apiType}` });
    // Envoy's first requests: CDS and LDS; unanswered, it sends nothing more.
    const deadline = Date.now() + 20_000;
    while (nodes[kind].length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await envoy.stop();
    if (nodes[kind].length < 2) throw new Error(`Envoy sent ${nodes[kind].length} ${kind} requests within 20 s, expected 2`);
  }
  server.forceShutdown();
  return nodes;
}

/** The bytes of a length-delimited field of a message (the first occurrence). */
function nodeField(message: Buffer, fieldNumber: number): Buffer {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = message[pos++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (pos < message.length) {
    const tag = varint();
    if ((tag & 7) !== 2) throw new Error(`unexpected wire type in field ${tag >>> 3}`);
    const length = varint();
    if (tag >>> 3 === fieldNumber) return Buffer.from(message.subarray(pos, pos + length));
    pos += length;
  }
  throw new Error(`no field ${fieldNumber}`);
}

/** A length-delimited field: tag, length, bytes. */
function field(tag: number, bytes: Uint8Array): Buffer {
  const length: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.concat([Buffer.from([tag, ...length]), bytes]);
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Microseconds per request: the decode, then the node check a stream makes on a request after its first. This
 * version of the decoders leaves the node as bytes, of which the stream reads only the id; older versions
 * decoded the node with the request, and the stream compared ids.
 */
function time(requests: readonly Buffer[], decode: (bytes: Buffer) => unknown, nodeId: string): number {
  const check = (decoded: unknown): void => {
    if (decoded instanceof UndecodableRequest) throw new Error(decoded.message);
    const node = (decoded as { node: unknown }).node;
    let id: string | undefined;
    if (node === undefined || node === null) id = nodeId;
    else if (node instanceof Uint8Array) id = readNodeId(node);
    else id = (node as { id: string }).id;
    if (id !== nodeId) throw new Error(`node id changed to ${id}`);
  };
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    for (const bytes of requests) check(decode(bytes));
    runs.push(((performance.now() - start) * 1000) / requests.length);
  }
  return median(runs);
}

/** The stream's way to read a node id, where the decoders export one; a full decode otherwise. */
const messages = (await import('../src/server/messages.js')) as { readNodeId?: (bytes: Uint8Array) => string };
const readNodeId = messages.readNodeId ?? ((bytes: Uint8Array) => (nodeType.decode(bytes) as unknown as { id: string }).id);

const nodes = await captureEnvoyNodes();
for (const kind of ['sotw', 'delta'] as const) {
  const [first, ...rest] = nodes[kind];
  console.log(`${kind}: Envoy sent ${nodes[kind].length} requests, each with a ${first.length}-byte node; identical bytes each time: ${rest.every((n) => n.equals(first))}`);
}
const nodeId = (nodeType.decode(nodes.sotw[0]) as unknown as { id: string }).id;

const names = Array.from({ length: NAMES }, (_, i) => `cluster-${i}`);
const sotwRest = encodeMessage(TypeUrl.DiscoveryRequest, { version_info: 'v1', resource_names: names, type_url: TypeUrl.Endpoint, response_nonce: '17' });
const deltaRest = encodeMessage(TypeUrl.DeltaDiscoveryRequest, { type_url: TypeUrl.Endpoint, response_nonce: '17' });
// The node is field 2 of a DiscoveryRequest (tag 0x12) and field 1 of a DeltaDiscoveryRequest (tag 0x0a).
const sotwRequests = Array.from({ length: REQUESTS }, () => Buffer.concat([field(0x12, nodes.sotw.at(-1)!), sotwRest]));
const deltaRequests = Array.from({ length: REQUESTS }, () => Buffer.concat([field(0x0a, nodes.delta.at(-1)!), deltaRest]));
const sotwNoNode = Array.from({ length: REQUESTS }, () => Buffer.from(sotwRest));

// Warm up the decoders before timing.
time(sotwRequests.slice(0, 200), decodeDiscoveryRequest, nodeId);
time(deltaRequests.slice(0, 200), decodeDeltaDiscoveryRequest, nodeId);
const rows = [
  ['SotW ACK with the node', time(sotwRequests, decodeDiscoveryRequest, nodeId)],
  ['delta ACK with the node', time(deltaRequests, decodeDeltaDiscoveryRequest, nodeId)],
  ['SotW ACK without a node', time(sotwNoNode, decodeDiscoveryRequest, nodeId)],
] as const;
console.log(`median of ${RUNS} runs × ${REQUESTS} requests (${NAMES} names in the SotW ACK):`);
for (const [what, us] of rows) console.log(`  ${what.padEnd(26)} ${us.toFixed(1)} µs per request`);
