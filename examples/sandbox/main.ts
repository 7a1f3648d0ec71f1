// The sandbox's control plane, built on xds-control-plane exactly as a user would: it serves one snapshot to node
// `test-id` over ADS on port 18000. Run it with
//
//   node --import tsx examples/sandbox/main.ts [--port 18000] [--node test-id] [--upstream service1] [--version 1] [--debug]
//
// Besides the seed's edit-and-restart way of changing the upstream, it can change it while running: POST to its
// small admin endpoint (`--admin-port`, default 18001):
//
//   curl -X POST 'http://127.0.0.1:18001/upstream?host=service2'     (the version goes up by one)
//
// The admin endpoint also shows what each Envoy runs and how the control plane is doing:
//
//   curl http://127.0.0.1:18001/status               (per node and type: SYNCED, STALE, ERROR with Envoy's message)
//   curl 'http://127.0.0.1:18001/status?format=json'
//   curl http://127.0.0.1:18001/metrics              (Prometheus)
//
// and the xDS port serves CSDS (envoy.service.status.v3) and the gRPC health service (grpc.health.v1) beside xDS.
//
// In the no-Docker sandbox the service names are mapped to local ports with --hosts service1=127.0.0.1:18081,...
import { createServer as createHttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { SnapshotCache } from 'xds-control-plane/cache';
import { createPrometheusMetrics } from 'xds-control-plane/metrics';
import { combineCallbacks, createServer, createStatusHandler } from 'xds-control-plane/server';
import { ListenerPort, SnapshotVersion, UpstreamHost, UpstreamPort, generateSnapshot } from './resource.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '18000' },
    'admin-port': { type: 'string', default: '18001' },
    node: { type: 'string', default: 'test-id' },
    upstream: { type: 'string', default: UpstreamHost },
    version: { type: 'string', default: SnapshotVersion },
    'listener-port': { type: 'string', default: String(ListenerPort) },
    hosts: { type: 'string', default: '' },
    debug: { type: 'boolean', default: false },
  },
});

// service name -> [host, port]; by default a service name is a DNS name on the sandbox's port (Docker compose).
const hosts = new Map<string, [string, number]>();
for (const entry of values.hosts.split(',').filter(Boolean)) {
  const [name, address] = entry.split('=') as [string, string];
  const at = address.lastIndexOf(':');
  hosts.set(name, [address.slice(0, at), Number(address.slice(at + 1))]);
}
const resolve = (service: string): [string, number] => hosts.get(service) ?? [service, UpstreamPort];

const log = (...args: unknown[]) => console.log(new Date().toISOString(), ...args);
const debug = values.debug ? log : () => {};

const cache = new SnapshotCache({ ads: true });
const registry = new Registry();
const metrics = createPrometheusMetrics({ registry });
metrics.observeCache(cache);
let version = Number(values.version);
let upstream = values.upstream;

async function publish(): Promise<void> {
  const [host, port] = resolve(upstream);
  const snapshot = metrics.timeSnapshotBuild(() =>
    generateSnapshot({ version: String(version), upstreamHost: upstream, upstreamAddress: host, upstreamPort: port, listenerPort: Number(values['listener-port']) }),
  );
  snapshot.consistent();
  await cache.setSnapshot(values.node, snapshot);
  log(`snapshot version "${version}" set for node ${values.node}: upstream ${upstream} (${host}:${port})`);
}

const xds = createServer(cache, {
  csds: true,
  health: true,
  callbacks: combineCallbacks(metrics.callbacks, {
    onStreamOpen: (id, typeUrl) => debug(`stream ${id} open (${typeUrl || 'ADS'})`),
    onStreamClosed: (id) => debug(`stream ${id} closed`),
    onStreamRequest: (id, request) =>
      debug(`stream ${id} request ${request.type_url} version "${request.version_info ?? ''}" names [${(request.resource_names ?? []).join(', ')}]`),
    onStreamResponse: (id, _request, response) => debug(`stream ${id} response ${response.typeUrl} version "${response.version}" (${response.resources.length} resources)`),
    onAck: (ack) => debug(`${ack.nodeId} ACKed ${ack.typeUrl} version "${ack.version}"`),
    onNack: (nack) => log(`${nack.nodeId} NACKed ${nack.typeUrl} version "${nack.rejectedVersion ?? ''}": ${nack.errorDetail.message}`),
  }),
});
metrics.observeServer(xds);
const status = createStatusHandler(cache);

await publish();
const port = await xds.listen(`0.0.0.0:${values.port}`).catch((error: unknown) => {
  if (!String(error).includes('EADDRINUSE')) throw error;
  console.error(`port ${values.port} is already in use: give the xDS server another one with --port PORT`);
  process.exit(1);
});
log(`xDS server listening on port ${port}`);

const admin = createHttpServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/upstream') {
    const host = url.searchParams.get('host');
    if (!host) {
      res.writeHead(400).end('give ?host=service2\n');
      return;
    }
    upstream = host;
    version++;
    publish().then(
      () => res.writeHead(200).end(`version ${version}: upstream ${upstream}\n`),
      (error: unknown) => res.writeHead(500).end(`${String(error)}\n`),
    );
    return;
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200).end('ok\n');
    return;
  }
  if (url.pathname === '/status') {
    status(req, res);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(`${String(error)}\n`),
    );
    return;
  }
  res.writeHead(404).end('POST /upstream?host=NAME, GET /status[?format=json], GET /metrics or GET /healthz\n');
});
admin.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.error(`port ${values['admin-port']} is already in use: give the admin endpoint another one with --admin-port PORT`);
  process.exit(1);
});
admin.listen(Number(values['admin-port']), '0.0.0.0', () => log(`admin endpoint on port ${values['admin-port']}: POST /upstream?host=service2, GET /status, GET /metrics`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: shutting down`);
    admin.close();
    xds.close({ deadlineMs: 2000 }).then(() => process.exit(0), () => process.exit(1));
  });
}
