// Connect storm: N simulated Envoys connect at once, each on its own HTTP/2 connection, each sending Envoy's
// ~60 KB node on every request (Envoy's default). How many finish their first round (CDS and LDS answered and
// ACKed) within the deadline, and how long it took.
//   node --conditions=xds-source --import tsx bench/connect-storm.ts [--clients 1000] [--clusters 100] [--deadline 20000]
//
// The server runs in a child process (this file with --serve): one SnapshotCache whose hash maps every node to
// one key, one snapshot of `--clusters` clusters and listeners. The node is built like Envoy 1.40's: 516
// extensions, user agent, metadata; about 60 KB on the wire.
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { lookupType, TypeUrl } from '../src/resource/index.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '100' },
    deadline: { type: 'string', default: '20000' },
    serve: { type: 'boolean', default: false },
  },
});

if (values.serve) {
  const { Snapshot, SnapshotCache } = await import('../src/cache/index.js');
  const { createServer } = await import('../src/server/index.js');
  const { cluster, listener, route } = await import('../test/support/sample-resources.js');
  const clusters = Number(values.clusters);
  const names = Array.from({ length: clusters }, (_, i) => `c${i}`);
  const cache = new SnapshotCache({ hash: () => 'fleet' });
  await cache.setSnapshot('fleet', new Snapshot('1', {
    [TypeUrl.Cluster]: names.map((name) => cluster(name, { type: 'STATIC', eds_cluster_config: undefined })),
    [TypeUrl.Listener]: names.map((_, i) => listener(`l${i}`, `r${i}`)),
    [TypeUrl.Route]: names.map((name, i) => route(`r${i}`, name)),
  }));
  const xds = createServer(cache, { requestRateLimit: false });
  const port = await xds.listen('127.0.0.1:0');
  process.send!({ port });
  // With STORM_TRACE=1, the server prints its open streams every second.
  if (process.env['STORM_TRACE'] === '1') setInterval(() => console.error(`server: ${xds.stats().streams} streams, ${xds.stats().watches} watches`), 1000).unref();
  // Exit cleanly on SIGINT, so that --cpu-prof (STORM_SERVER_ARGS) writes its profile.
  process.on('SIGINT', () => process.exit(0));
} else {
  await storm();
}

/** A length-delimited field: tag, length, bytes. */
function lengthDelimited(tag: number, bytes: Uint8Array): Buffer {
  const length: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.concat([Buffer.from([tag, ...length]), bytes]);
}

function envoyLikeNode(id: string): object {
  const extensions = Array.from({ length: 516 }, (_, i) => ({
    name: `envoy.extension.category_${i % 40}.name_${i}`,
    category: `envoy.category_${i % 40}`,
    type_urls: [`envoy.extensions.category_${i % 40}.v3.Config${i}`],
  }));
  return {
    id,
    cluster: 'fleet',
    user_agent_name: 'envoy',
    user_agent_build_version: { version: { major_number: 1, minor_number: 40 }, metadata: { fields: { 'revision.sha': { string_value: 'x'.repeat(40) }, 'build.type': { string_value: 'RELEASE' } } } },
    metadata: { fields: { zone: { string_value: 'zone-a' }, app: { string_value: 'bench' } } },
    extensions,
  };
}

async function storm(): Promise<void> {
  const clients = Number(values.clients);
  const deadline = Number(values.deadline);
  const server: ChildProcess = fork(new URL(import.meta.url).pathname, ['--serve', '--clusters', String(values.clusters)], { execArgv: [...process.execArgv, ...(process.env['STORM_SERVER_ARGS'] ?? '').split(' ').filter(Boolean)] });
  const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
  const requestType = lookupType(TypeUrl.DiscoveryRequest);
  const responseType = lookupType(TypeUrl.DiscoveryResponse);
  const nodeType = lookupType('envoy.config.core.v3.Node');
  // Each client's node field (field 2 of DiscoveryRequest), encoded before the clock starts.
  const nodeFields = Array.from({ length: clients }, (_, i) => {
    const bytes = nodeType.encode(nodeType.fromObject(envoyLikeNode(`envoy-${i}`))).finish();
    return lengthDelimited(0x12, bytes);
  });
  const encode = (node: Buffer, fields: object): Buffer => Buffer.concat([node, requestType.encode(requestType.fromObject(fields)).finish()]);
  console.log(`${clients} clients, node ${nodeFields[0].length} bytes, deadline ${deadline} ms`);

  const started = performance.now();
  const done: number[] = [];
  const open: { client: Client; call: ClientDuplexStream<Buffer, unknown> }[] = [];
  let failed = 0;
  for (let i = 0; i < clients; i++) {
    const node = nodeFields[i];
    // A distinct option per client: grpc-js would otherwise share one connection between them.
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'storm.client': i, 'grpc.max_receive_message_length': -1 });
    const call = client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (b: Buffer) => b,
      (b: Buffer) => responseType.decode(b),
      new Metadata(),
      { deadline: Date.now() + deadline + 5000 },
    );
    open.push({ client, call });
    const answered = new Set<string>();
    call.on('data', (response: { type_url: string; version_info: string; nonce: string }) => {
      call.write(encode(node, { type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce }));
      answered.add(response.type_url);
      if (answered.size === 2) done.push(performance.now() - started);
    });
    call.on('error', () => failed++);
    call.write(encode(node, { type_url: TypeUrl.Cluster }));
    call.write(encode(node, { type_url: TypeUrl.Listener }));
  }
  while (done.length + failed < clients && performance.now() - started < deadline) await new Promise((r) => setTimeout(r, 100));
  const sorted = [...done].sort((a, b) => a - b);
  const at = (q: number): string => (sorted.length === 0 ? '-' : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000).toFixed(2));
  console.log(`converged ${done.length} of ${clients} within ${deadline} ms (${failed} failed); p50 ${at(0.5)} s, p99 ${at(0.99)} s, last ${at(1)} s`);
  for (const { client, call } of open) {
    call.cancel();
    client.close();
  }
  server.kill('SIGINT');
}
