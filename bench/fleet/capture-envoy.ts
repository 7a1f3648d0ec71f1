/**
 * Captures what real Envoy sends to a control plane, for the fleet load generator to copy
 * (`npm run bench:capture-envoy`; needs Envoy, found as the real-Envoy tests find it).
 *
 * Envoy connects to a recording proxy (node:http2, speaking gRPC framing itself, so that it sees the bytes
 * and the HTTP/2 settings Envoy sends) in front of our server, which serves each Envoy a snapshot of the
 * fleet's resources under its own node id. Envoy's bootstrap is the ordinary one: ADS over `envoy_grpc` to an
 * `xds_cluster` with `http2_protocol_options: {}`, and no `set_node_on_first_message_only`.
 *
 * 1. SotW: one Envoy connects and initialises.
 * 2. Delta: two Envoys connect and initialise; the proxy then drops every connection, twice (a control-plane
 *    restart), and they reconnect presenting `initial_resource_versions`.
 * 3. Backoff: the proxy then closes every new connection at once for a few seconds; the times of Envoy's
 *    attempts show its reconnect backoff.
 *
 * Writes `bench/fleet/fixtures/envoy-1.40/`:
 * - `node.bin`: the `Node` Envoy sent (field 1 of a delta request), as encoded by Envoy;
 * - `requests.json`: every request, in order, with its connection, stream and time, its bytes (base64) without
 *   the node field, and whether the node was there;
 * - `facts.json`: what the load generator relies on, derived from the above (node size and extensions, node on
 *   every request, order of subscriptions, sorted subscribe lists, order of `initial_resource_versions` per
 *   connection, HTTP/2 settings and windows, connections per Envoy, reconnect intervals).
 *
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { Snapshot, SnapshotCache } from 'xds-control-plane/cache';
import { TypeUrl, lookupType } from 'xds-control-plane/resource';
import { createServer } from 'xds-control-plane/server';
import { startEnvoy, type EnvoyInstance } from '../../test/support/envoy.js';
import { freePort } from '../../test/support/ports.js';
import { bootstrap } from './real-envoys.js';
import { FleetGenerator, type ProtoJson } from './resources.js';
import { REPO_ROOT } from './servers.js';

/** Where the fixtures go. */
export const FIXTURE_DIR = join(REPO_ROOT, 'bench', 'fleet', 'fixtures', 'envoy-1.40');

/** Clusters served to each Envoy: enough for the order of a versions map to show. */
const CLUSTERS = 30;

// The generated Envoy API, loaded by the library's registry (each package on first use).
const DiscoveryRequest = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const DeltaDiscoveryRequest = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const Node = lookupType('envoy.config.core.v3.Node');

/** One request as the proxy saw it. */
interface Recorded {
  readonly envoy: string;
  readonly mode: 'sotw' | 'delta';
  /** Index of the HTTP/2 connection (in the order the proxy accepted them). */
  readonly connection: number;
  /** Index of the gRPC stream on the proxy. */
  readonly stream: number;
  /** Milliseconds since the capture started. */
  readonly t: number;
  readonly bytes: Buffer;
}

/** One HTTP/2 connection as the proxy saw it. */
interface Connection {
  readonly index: number;
  readonly t: number;
  envoy?: string;
  settings?: http2.Settings;
  /** The connection-level window Envoy granted (its WINDOW_UPDATE on stream 0 after the preface). */
  connectionWindow?: number;
  headers?: Record<string, string>;
}

const started = performance.now();
const now = (): number => Math.round((performance.now() - started) * 10) / 10;
const recorded: Recorded[] = [];
const connections: Connection[] = [];
let refuse = false;

/** Reads 5-byte-prefixed gRPC messages out of a byte stream. */
function messageReader(onMessage: (m: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      onMessage(pending.subarray(5, 5 + length));
      pending = pending.subarray(5 + length);
    }
  };
}

function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const passThrough = (b: Buffer): Buffer => b;

/** The proxy: records each request and relays it to our server over grpc-js, responses back unchanged. */
async function startProxy(upstreamPort: number): Promise<{ port: number; dropAll: () => void; close: () => Promise<void> }> {
  const upstream = new grpc.Client(`127.0.0.1:${upstreamPort}`, grpc.credentials.createInsecure());
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  const bySession = new WeakMap<http2.Http2Session, Connection>();
  let streams = 0;
  server.on('session', (session) => {
    const c: Connection = { index: connections.length, t: now() };
    connections.push(c);
    bySession.set(session, c);
    if (refuse) {
      session.destroy();
      return;
    }
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    session.on('remoteSettings', (s) => {
      c.settings ??= s;
    });
  });
  server.on('stream', (stream, headers) => {
    const c = stream.session === undefined ? undefined : bySession.get(stream.session);
    if (c === undefined) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const path = String(headers[':path']);
    const mode = path.endsWith('DeltaAggregatedResources') ? 'delta' : 'sotw';
    const index = streams++;
    // Envoy raises the connection window right after its preface, before its first stream; nothing has been
    // sent to it yet.
    c.connectionWindow ??= stream.session?.state.remoteWindowSize ?? 0;
    c.headers ??= Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
    const call = upstream.makeBidiStreamRequest(path, passThrough, passThrough);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.on(
      'data',
      messageReader((m) => {
        const bytes = Buffer.from(m);
        const envoy = nodeIdOf(mode, bytes) ?? c.envoy ?? '?';
        c.envoy ??= envoy;
        recorded.push({ envoy, mode, connection: c.index, stream: index, t: now(), bytes });
        call.write(bytes);
      }),
    );
    stream.on('close', () => call.cancel());
    stream.on('error', () => undefined);
    call.on('data', (m: Buffer) => {
      if (!stream.closed) stream.write(frame(m));
    });
    call.on('error', () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    call.on('end', () => {
      if (!stream.closed) stream.end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    dropAll: () => {
      for (const s of sessions) s.destroy();
    },
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.close();
    },
  };
}

function nodeIdOf(mode: 'sotw' | 'delta', bytes: Buffer): string | undefined {
  const request = (mode === 'sotw' ? DiscoveryRequest : DeltaDiscoveryRequest).decode(bytes) as unknown as { node?: { id?: string } };
  return request.node?.id;
}

/** The fleet's resources, with the listener on a port of Envoy's own. */
function snapshotFor(listenerPort: number): Snapshot {
  const r = new FleetGenerator().build({ clusters: CLUSTERS, listeners: 1, endpoints: 1 }, 'none');
  const listeners = r.listeners.map((l) => ({
    ...l,
    address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
  })) as ProtoJson[];
  return new Snapshot('1', {
    [TypeUrl.Cluster]: r.clusters,
    [TypeUrl.Endpoint]: r.endpoints,
    [TypeUrl.Listener]: listeners,
    [TypeUrl.Route]: r.routes,
  });
}

/** Waits until `count` more requests of `envoy` arrived and none for `quietMs`. */
async function settle(quietMs = 1500, maxMs = 30_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = recorded.length;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    if (recorded.length !== last) {
      last = recorded.length;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Facts

type Decoded = Record<string, unknown> & {
  node?: { id?: string };
  type_url?: string;
  version_info?: string;
  response_nonce?: string;
  resource_names?: string[];
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
};

function decode(r: Recorded): Decoded {
  const type = r.mode === 'sotw' ? DiscoveryRequest : DeltaDiscoveryRequest;
  return type.toObject(type.decode(r.bytes), { longs: String, defaults: false });
}

/** Keys of the `initial_resource_versions` map in wire order (protobufjs objects keep insertion order). */
function initialVersionsOrder(r: Recorded): string[] {
  const names: string[] = [];
  const reader = protobuf.Reader.create(r.bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 5 && (tag & 7) === 2) {
      const entry = protobuf.Reader.create(reader.bytes());
      while (entry.pos < entry.len) {
        const t = entry.uint32();
        if (t >>> 3 === 1) names.push(entry.string());
        else entry.skipType(t & 7);
      }
    } else reader.skipType(tag & 7);
  }
  return names;
}

/** The request's bytes without the node field (field 2 in SotW, 1 in delta). */
function withoutNode(r: Recorded): Buffer {
  const nodeField = r.mode === 'sotw' ? 2 : 1;
  const out: Buffer[] = [];
  const reader = protobuf.Reader.create(r.bytes);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    reader.skipType(tag & 7);
    if (tag >>> 3 !== nodeField) out.push(r.bytes.subarray(start, reader.pos));
  }
  return Buffer.concat(out);
}

function nodeBytes(r: Recorded): Buffer | undefined {
  const nodeField = r.mode === 'sotw' ? 2 : 1;
  const reader = protobuf.Reader.create(r.bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === nodeField && (tag & 7) === 2) return Buffer.from(reader.bytes());
    reader.skipType(tag & 7);
  }
  return undefined;
}

const SHORT: Record<string, string> = {
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.Endpoint]: 'EDS',
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.Route]: 'RDS',
};

function facts(backoffAttempts: readonly number[]): Record<string, unknown> {
  const decoded = recorded.map((r) => ({ r, d: decode(r) }));
  const node = nodeBytes(recorded[0])!;
  const nodeObject = Node.toObject(Node.decode(node), { defaults: false }) as { extensions?: unknown[]; client_features?: string[]; user_agent_name?: string; user_agent_build_version?: unknown };
  const perStream = new Map<number, typeof decoded>();
  for (const x of decoded) perStream.set(x.r.stream, [...(perStream.get(x.r.stream) ?? []), x]);
  const firstRequestOrder = [...perStream.values()].map((list) => {
    const order: string[] = [];
    for (const { d } of list) {
      const t = SHORT[d.type_url ?? ''] ?? d.type_url ?? '';
      if (!order.includes(t)) order.push(t);
    }
    return { envoy: list[0].r.envoy, mode: list[0].r.mode, connection: list[0].r.connection, order: order.join(' ') };
  });
  const subscribeLists = decoded.flatMap(({ d }) => (d.resource_names_subscribe && d.resource_names_subscribe.length > 1 ? [d.resource_names_subscribe] : []));
  const sotwNameLists = decoded.flatMap(({ d }) => (d.resource_names && d.resource_names.length > 1 ? [d.resource_names] : []));
  const isSorted = (l: readonly string[]): boolean => l.every((v, i) => i === 0 || l[i - 1] < v);
  const withVersions = decoded.filter(({ d }) => d.initial_resource_versions && Object.keys(d.initial_resource_versions).length > 1);
  const orders = withVersions.map(({ r }) => ({ envoy: r.envoy, connection: r.connection, type: SHORT[decode(r).type_url ?? ''], order: initialVersionsOrder(r) }));
  const pairs: { same: number; of: number } = { same: 0, of: 0 };
  for (let i = 0; i < orders.length; i++) {
    for (let j = i + 1; j < orders.length; j++) {
      if (orders[i].type !== orders[j].type || orders[i].connection === orders[j].connection) continue;
      pairs.of++;
      if (orders[i].order.join() === orders[j].order.join()) pairs.same++;
    }
  }
  const envoys = [...new Set(recorded.map((r) => r.envoy))];
  const streamsPerConnection = new Map<number, Set<number>>();
  for (const r of recorded) streamsPerConnection.set(r.connection, (streamsPerConnection.get(r.connection) ?? new Set()).add(r.stream));
  const accepted = connections.filter((c) => c.settings !== undefined);
  return {
    envoyVersion: findVersion(),
    node: {
      bytes: node.length,
      extensions: nodeObject.extensions?.length ?? 0,
      clientFeatures: nodeObject.client_features ?? [],
      userAgentName: nodeObject.user_agent_name,
      userAgentBuildVersion: nodeObject.user_agent_build_version,
    },
    requests: recorded.length,
    nodeOnEveryRequest: recorded.every((r) => nodeBytes(r) !== undefined),
    nodeEncodingsPerEnvoy: envoys.map((e) => {
      const all = recorded.filter((r) => r.envoy === e).map((r) => nodeBytes(r)!);
      const distinct = [...new Set(all.map((b) => b.toString('base64')))].map((b) => Buffer.from(b, 'base64'));
      return { envoy: e, requests: all.length, distinct: distinct.length, differingFields: differingFields(distinct) };
    }),
    subscriptionOrderPerStream: firstRequestOrder,
    deltaSubscribeListsSorted: { lists: subscribeLists.length, sorted: subscribeLists.filter(isSorted).length },
    sotwResourceNamesSorted: { lists: sotwNameLists.length, sorted: sotwNameLists.filter(isSorted).length },
    initialResourceVersions: {
      requests: orders.length,
      sortedByName: orders.filter((o) => isSorted(o.order)).length,
      pairsOfConnectionsWithSameOrder: pairs,
      entriesPerRequest: orders.map((o) => `${o.envoy} conn ${o.connection} ${o.type}: ${o.order.length}`),
    },
    connectionsPerEnvoyAtOnce: Math.max(...[...streamsPerConnection.values()].map((s) => s.size)) === 1 ? 1 : 'more than one stream per connection',
    http2: accepted.slice(0, 3).map((c) => ({ envoy: c.envoy, settings: c.settings, connectionWindow: c.connectionWindow })),
    grpcHeaders: accepted[0]?.headers,
    reconnectIntervalsMs: backoffAttempts.slice(1).map((t, i) => Math.round(t - backoffAttempts[i])),
  };
}

/** Top-level fields of `Node` whose bytes differ between encodings. */
function differingFields(nodes: readonly Buffer[]): number[] {
  const fieldsOf = (b: Buffer): Map<number, string> => {
    const out = new Map<number, string>();
    const reader = protobuf.Reader.create(b);
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      reader.skipType(tag & 7);
      const field = tag >>> 3;
      out.set(field, (out.get(field) ?? '') + b.subarray(start, reader.pos).toString('base64'));
    }
    return out;
  };
  const maps = nodes.map(fieldsOf);
  const fields = new Set(maps.flatMap((m) => [...m.keys()]));
  return [...fields].filter((f) => maps.some((m) => m.get(f) !== maps[0].get(f))).sort((a, b) => a - b);
}

function findVersion(): string {
  return process.env['ENVOY_CAPTURE_VERSION'] ?? '1.40.0';
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const cache = new SnapshotCache({ ads: true });
  const xds = createServer(cache);
  const upstreamPort = await xds.listen('127.0.0.1:0');
  const proxy = await startProxy(upstreamPort);
  const envoys: EnvoyInstance[] = [];
  const run = async (id: string, api: 'GRPC' | 'DELTA_GRPC'): Promise<EnvoyInstance> => {
    await cache.setSnapshot(id, snapshotFor(await freePort()));
    const e = await startEnvoy({ bootstrap: bootstrap(id, api === 'GRPC' ? 'sotw' : 'delta', proxy.port), name: id, startTimeoutMs: 60_000 });
    envoys.push(e);
    return e;
  };
  let backoff: number[] = [];
  try {
    console.log('SotW: one Envoy');
    const sotw = await run('envoy-sotw', 'GRPC');
    await settle();
    await sotw.stop();

    console.log('delta: two Envoys, then two control-plane restarts');
    await Promise.all([run('envoy-delta-a', 'DELTA_GRPC'), run('envoy-delta-b', 'DELTA_GRPC')]);
    await settle();
    for (let i = 0; i < 2; i++) {
      proxy.dropAll();
      await settle();
    }

    console.log('backoff: one Envoy, every connection closed at once for 10 s');
    await envoys.find((e) => (e.bootstrap['node'] as { id: string }).id === 'envoy-delta-b')?.stop();
    refuse = true;
    const from = connections.length;
    proxy.dropAll();
    await sleep(10_000);
    refuse = false;
    backoff = connections.slice(from).filter((c) => c.settings === undefined).map((c) => c.t);
    await settle();
  } finally {
    for (const e of envoys) await e.stop();
    await proxy.close();
    await xds.close({ deadlineMs: 1000 });
    cache.close();
  }

  mkdirSync(FIXTURE_DIR, { recursive: true });
  const node = nodeBytes(recorded[0])!;
  writeFileSync(join(FIXTURE_DIR, 'node.bin'), node);
  writeFileSync(
    join(FIXTURE_DIR, 'requests.json'),
    `${JSON.stringify(
      recorded.map((r) => ({
        envoy: r.envoy, mode: r.mode, connection: r.connection, stream: r.stream, t: r.t,
        type: SHORT[decode(r).type_url ?? ''], node: nodeBytes(r) !== undefined, bytes: withoutNode(r).toString('base64'),
      })),
      null,
      1,
    )}\n`,
  );
  const f = facts(backoff);
  writeFileSync(join(FIXTURE_DIR, 'facts.json'), `${JSON.stringify(f, null, 2)}\n`);
  console.log(JSON.stringify(f, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
